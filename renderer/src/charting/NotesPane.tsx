/**
 * The chart's Notes tab: unfinished work (drafts on this computer and saved
 * draft notes, each reopening in the editor), then the signed notes newest
 * first, readable in full with their addenda beneath. Never edits a signed
 * note.
 */
import { useMemo } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { DraftsList, usePatientDrafts } from './DraftsList';
import { appendsTo, byDateDesc } from './note-text';
import { NoteReader } from './NoteReader';
import type { PaneProps } from './WritePane';
import './charting.css';

export function NotesPane({ patientId, chart, onSaved, onOpenTab }: PaneProps) {
  const drafts = usePatientDrafts(patientId);
  const { signed, addendaOf } = useMemo(() => {
    const all: FhirResource[] = chart.groups.Composition?.items ?? [];
    const addenda = new Map<string, FhirResource[]>();
    for (const c of all) {
      const to = appendsTo(c);
      if (to) addenda.set(to, [...(addenda.get(to) ?? []), c]);
    }
    for (const list of addenda.values()) list.sort((a, b) => String(a.date ?? '').localeCompare(String(b.date ?? '')));
    return { signed: all.filter((c) => c.status === 'final' && !appendsTo(c)).sort(byDateDesc), addendaOf: addenda };
  }, [chart]);

  return (
    <div className="charting notes-pane" data-testid="notes-pane">
      <h2 className="charting-sr">Notes</h2>
      <DraftsList patientId={patientId} chart={chart} onOpenTab={onOpenTab} />
      <div className="charting-actions">
        <button type="button" className="primary small" onClick={() => onOpenTab('write')}>Write a note</button>
      </div>
      {signed.length === 0 ? (
        <p className="muted">No signed notes on this computer.</p>
      ) : (
        signed.map((n) => (
          <NoteReader
            key={n.id}
            patientId={patientId}
            note={n}
            addenda={addendaOf.get(n.id) ?? []}
            hasAddendumDraft={drafts.some((d) => d.kind === 'addendum' && d.target === n.id)}
            onSaved={onSaved}
          />
        ))
      )}
    </div>
  );
}
