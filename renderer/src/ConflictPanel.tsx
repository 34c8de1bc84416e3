/**
 * The conflict view: for each change that met someone else's newer version,
 * both versions side by side (differences marked) and the choice: keep mine
 * (sent again, on top of theirs) or take theirs (mine discarded). Main
 * audits the listing and the choice; nothing is resolved without a click.
 */
import { useEffect, useState } from 'react';
import type { Conflict } from '../../shared/contract';
import { api, call } from './clinician';
import { conflictRows } from './conflict-fields';
import { formatDate } from './fhir-format';

function kind(type: string): string {
  return { Condition: 'Problem', Composition: 'Note', Observation: 'Observation' }[type] ?? type;
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
    <section className="conflicts" aria-label="Changes to resolve" data-testid="conflict-panel">
      <header>
        <h2>Changes to resolve</h2>
        <button type="button" className="close" onClick={onClose}>Close</button>
      </header>
      <p className="muted">Someone else changed these while you were working. Nothing was overwritten: choose which version to keep.</p>
      {error && <p className="error" role="alert">{error}</p>}
      {conflicts?.length === 0 && <p className="ok" data-testid="conflicts-none">Nothing left to resolve.</p>}
      {conflicts?.map((c) => (
        <article key={c.key} className="conflict" data-testid="conflict">
          <h3>
            {kind(c.resourceType)} <span className="muted">changed elsewhere (version {c.theirVersion}), noticed {formatDate(c.detectedAt, true)}</span>
          </h3>
          <table className="rows conflict-table">
            <thead>
              <tr><th scope="col">Field</th><th scope="col">Your version</th><th scope="col">Their version</th></tr>
            </thead>
            <tbody>
              {conflictRows(c.mine, c.theirs).map((r) => (
                <tr key={r.field} className={r.differs ? 'differs' : undefined} data-testid={r.differs ? 'conflict-diff' : undefined}>
                  <th scope="row">{r.label}</th>
                  <td data-testid={r.differs ? 'conflict-mine' : undefined}>{r.mine}</td>
                  <td data-testid={r.differs ? 'conflict-theirs' : undefined}>{r.theirs}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="conflict-actions">
            <button type="button" className="primary small" onClick={() => void choose(c.key, 'mine')}>Keep mine</button>
            <button type="button" className="link" onClick={() => void choose(c.key, 'theirs')}>Take theirs</button>
          </div>
        </article>
      ))}
    </section>
  );
}
