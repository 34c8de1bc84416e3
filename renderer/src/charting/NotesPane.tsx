/**
 * The Notes tab of a chart: the patient's progress notes (signed and saved
 * drafts) newest first. Never edits a signed note.
 */
import type { FhirResource } from '../../../shared/contract';
import { field, formatDate } from '../fhir-format';
import type { PaneProps } from './WritePane';

export function NotesPane({ chart }: PaneProps) {
  const notes: FhirResource[] = chart.groups.Composition?.items ?? [];
  if (notes.length === 0) return <p className="muted">No notes on this computer.</p>;
  return (
    <table className="rows" data-testid="notes-list">
      <thead>
        <tr><th scope="col">Date</th><th scope="col">Note</th><th scope="col">Status</th><th scope="col">Author</th></tr>
      </thead>
      <tbody>
        {notes.map((r) => (
          <tr key={r.id}>
            <td>{formatDate(r.date, true)}</td>
            <td>{typeof r.title === 'string' ? r.title : 'Note'}</td>
            <td>{r.status === 'final' ? 'signed' : 'draft'}</td>
            <td>{typeof field(r, 'author.display') === 'string' ? (field(r, 'author.display') as string) : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
