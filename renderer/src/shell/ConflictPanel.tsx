/**
 * The conflict view, a modal dialog: for each change that met someone
 * else's newer version, whose record it is (the patient by name), what it
 * is (the problem, note or reading), which fields differ in words, both
 * versions side by side (differences marked in words and colour) and the
 * choice: keep mine (sent again, on top of theirs) or take theirs (mine
 * discarded). Main audits the listing and the choice; nothing is resolved
 * without a click. Never show raw references ("Patient/…") or codes.
 */
import { useEffect, useState } from 'react';
import type { Conflict } from '../../../shared/contract';
import { api, call } from '../clinician';
import { conflictRows } from '../conflict-fields';
import { conceptText, formatDate } from '../fhir-format';
import { Dialog } from '../ui/Dialog';

function kind(type: string): string {
  return { Condition: 'Problem', Composition: 'Note', Observation: 'Reading', AllergyIntolerance: 'Allergy', MedicationRequest: 'Medication' }[type] ?? 'Record';
}

/** What the changed record is, in words: the problem's name, the note's title, the reading's name. */
function whatOf(c: Conflict): string {
  const r = c.mine as Record<string, unknown>;
  if (typeof r.title === 'string' && r.title) return r.title;
  const text = r.code ? conceptText(r.code) : '';
  return text && text !== '—' ? text : kind(c.resourceType);
}

export function ConflictPanel({ onClose }: { onClose(): void }) {
  const [conflicts, setConflicts] = useState<Conflict[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => call(api().sync.conflicts({})).then((r) => setConflicts(r.conflicts), (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const choose = (key: string, choice: 'mine' | 'theirs') =>
    call(api().sync.resolveConflict({ key, choice })).then(load, (e: Error) => setError(e.message));

  return (
    <Dialog title="Changes to resolve" onClose={onClose} className="dialog-wide" testId="conflict-panel" description="Someone else changed these while you were working. Nothing was overwritten: choose which version to keep.">
      {error && <p className="error" role="alert">{error}</p>}
      {conflicts?.length === 0 && <p className="ok" data-testid="conflicts-none">Nothing left to resolve.</p>}
      {conflicts?.map((c) => {
        const rows = conflictRows(c.mine, c.theirs);
        const differing = rows.filter((r) => r.differs).map((r) => r.label);
        const titleId = `conflict-${c.key}`;
        return (
          <article key={c.key} className="conflict" data-testid="conflict" aria-labelledby={titleId}>
            <h3 id={titleId}>
              <span data-testid="conflict-patient">{c.patientName ?? 'A patient no longer on this computer'}</span>: {kind(c.resourceType).toLowerCase()} “{whatOf(c)}”
            </h3>
            <p className="muted">
              Changed elsewhere (their version {c.theirVersion}), noticed {formatDate(c.detectedAt, true)}.{' '}
              {differing.length > 0 && <span data-testid="conflict-fields">Differs in: {differing.join(', ')}.</span>}
            </p>
            <table className="rows conflict-table">
              <thead>
                <tr><th scope="col">Field</th><th scope="col">Your version</th><th scope="col">Their version</th></tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.field} className={r.differs ? 'differs' : undefined} data-testid={r.differs ? 'conflict-diff' : undefined}>
                    <th scope="row">{r.label}{r.differs && <span className="sr-only"> (differs)</span>}</th>
                    <td data-testid={r.differs ? 'conflict-mine' : undefined}>{r.mine}</td>
                    <td data-testid={r.differs ? 'conflict-theirs' : undefined}>{r.theirs}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="conflict-actions">
              <button type="button" className="primary small" onClick={() => void choose(c.key, 'mine')}>Keep mine</button>
              <button type="button" className="secondary" onClick={() => void choose(c.key, 'theirs')}>Take theirs</button>
            </div>
          </article>
        );
      })}
    </Dialog>
  );
}
