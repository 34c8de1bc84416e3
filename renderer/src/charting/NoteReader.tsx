/**
 * A signed progress note as a clinician reads it: each section under its
 * title, the author and signed time, the addenda beneath in order, and an
 * "Add addendum" action. Read only: a signed note is never edited.
 */
import { useEffect, useState } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { formatDate } from '../fhir-format';
import { AddendumEditor } from './AddendumEditor';
import { authorOf, sectionsForReading } from './note-text';

interface Props {
  patientId: string;
  note: FhirResource;
  addenda: FhirResource[];
  /** A local addendum draft exists: the editor starts open. */
  hasAddendumDraft: boolean;
  onSaved(): void;
}

export function NoteReader({ patientId, note, addenda, hasAddendumDraft, onSaved }: Props) {
  const [adding, setAdding] = useState(hasAddendumDraft);
  useEffect(() => {
    if (hasAddendumDraft) setAdding(true);
  }, [hasAddendumDraft]);
  const titleId = `note-${note.id}-title`;
  return (
    <article className="note-reader" aria-labelledby={titleId} data-testid="signed-note">
      <header className="note-reader-head">
        <h3 id={titleId}>{typeof note.title === 'string' ? note.title : 'Progress note'}</h3>
        <p className="muted note-meta">
          Signed by <span data-testid="note-author">{authorOf(note)}</span> · <time dateTime={String(note.date ?? '')}>{formatDate(note.date, true)}</time>
        </p>
      </header>
      {sectionsForReading(note).map((s, i) => (
        <section className="note-section" key={`${s.title}-${i}`}>
          <h4>{s.title}</h4>
          {s.text.trim() ? <p className="note-text">{s.text}</p> : <p className="muted">Nothing written.</p>}
        </section>
      ))}
      {addenda.length > 0 && (
        <div className="addenda">
          {addenda.map((a) => (
            <section className="addendum" key={a.id} data-testid="addendum" aria-label={`Addendum by ${authorOf(a)}`}>
              <h4>Addendum <span className="muted">· {authorOf(a)} · <time dateTime={String(a.date ?? '')}>{formatDate(a.date, true)}</time></span></h4>
              <p className="note-text">{sectionsForReading(a).map((s) => s.text).join('\n')}</p>
            </section>
          ))}
        </div>
      )}
      {adding ? (
        <AddendumEditor
          patientId={patientId}
          noteId={note.id}
          onClose={() => setAdding(false)}
          onSigned={() => {
            setAdding(false);
            onSaved();
          }}
        />
      ) : (
        <button type="button" className="secondary" onClick={() => setAdding(true)}>Add addendum</button>
      )}
    </article>
  );
}
