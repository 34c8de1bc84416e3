/**
 * The chart's Write tab: unfinished work for this patient, the SOAP note
 * editor and the vitals form. Everything typed is kept as a draft in the
 * encrypted cache as it is typed; entries go to the cache and the outbox,
 * so it works the same offline. Never throws away typed text on a key
 * press, a close or a lock.
 */
import type { Chart, ChartTab } from '../../../shared/contract';
import { DraftsList } from './DraftsList';
import { requestNote, useRequestedNote } from './edit-request';
import { NoteEditor } from './NoteEditor';
import { VitalsForm } from './VitalsForm';
import './charting.css';

const VITALS_HERE = ['vitals'] as const;

export interface PaneProps {
  patientId: string;
  chart: Chart;
  /** Reload the chart (something was saved). */
  onSaved(): void;
  onOpenTab(tab: ChartTab): void;
}

export function WritePane({ patientId, chart, onSaved, onOpenTab }: PaneProps) {
  const target = useRequestedNote(patientId);
  return (
    <div className="charting write-pane" data-testid="charting">
      <h2 className="charting-sr">Write</h2>
      <DraftsList patientId={patientId} chart={chart} onOpenTab={onOpenTab} editing={target} hideKinds={VITALS_HERE} />
      <div className="write-columns">
        <NoteEditor patientId={patientId} chart={chart} target={target} onTarget={(t) => requestNote(patientId, t)} onSaved={onSaved} />
        <VitalsForm patientId={patientId} onSaved={onSaved} />
      </div>
    </div>
  );
}
