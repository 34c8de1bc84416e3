/**
 * "Waiting changes": what this computer holds that the hospital server has
 * not accepted yet (sync.waiting), grouped by patient, each with its kind,
 * how long it has waited, its state in words and the last error (a fixed
 * text from main, never PHI), and Undo while it is still only here
 * (changes.undo, after a confirmation). Also the sync summary: online or
 * not, last successful send, refused reasons, a cache found rolled back.
 * Refreshes while open. Never shows anything main did not send.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { SyncStatus, WaitingChange } from '../../../shared/contract';
import { api, call } from '../clinician';
import { onlineWords } from './SyncStatusBar';
import { ConfirmDialog, Dialog } from '../ui/Dialog';

const REFRESH_MS = 2000;

const STATE_WORDS: Record<WaitingChange['state'], string> = {
  waiting: 'Waiting to send',
  sending: 'Sending now',
  failing: 'Server could not take it yet; sent again later',
  held: 'Held back until the server answers',
  refused: 'Refused by the server (kept here)',
  conflict: 'Changed elsewhere: choose a version',
};

/** "waiting under a minute", "waiting 3 min", "waiting 2 h 5 min", "waiting 3 days". */
export function waitingFor(createdAt: string, now: number): string {
  const ms = Math.max(0, now - Date.parse(createdAt));
  const min = Math.floor(ms / 60_000);
  if (!Number.isFinite(min)) return 'waiting';
  if (min < 1) return 'waiting under a minute';
  if (min < 60) return `waiting ${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `waiting ${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `waiting ${Math.floor(h / 24)} days`;
}

interface Group {
  key: string;
  name: string;
  changes: WaitingChange[];
}

function byPatient(changes: WaitingChange[]): Group[] {
  const groups = new Map<string, Group>();
  for (const c of changes) {
    const key = c.patientId ?? '';
    const group = groups.get(key) ?? { key, name: c.patientName ?? (c.patientId ? 'Patient not on this computer' : 'Not about one patient'), changes: [] };
    group.changes.push(c);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function WaitingChangesDialog({ status, onClose, onResolve }: { status: SyncStatus | null; onClose(): void; onResolve(): void }) {
  const [changes, setChanges] = useState<WaitingChange[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [undoing, setUndoing] = useState<WaitingChange | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(
    () =>
      call(api().sync.waiting({})).then(
        (r) => {
          setChanges(r.changes);
          setTruncated(r.truncated);
          setNow(Date.now());
          setError(null);
        },
        (e: Error) => setError(e.message),
      ),
    [],
  );

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      void load().finally(() => {
        if (!stopped) timer = setTimeout(tick, REFRESH_MS);
      });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [load]);

  const groups = useMemo(() => byPatient(changes ?? []), [changes]);

  const undo = (c: WaitingChange) => {
    setUndoing(null);
    call(api().changes.undo({ resourceType: c.resourceType, resourceId: c.resourceId })).then(
      (r) => {
        setMessage(r.undone ? (c.state === 'refused' ? `${c.kind} discarded.` : `${c.kind} undone.`) : 'Nothing to undo.');
        void load();
      },
      (e: Error) => {
        setMessage(null);
        setError(e.message);
        void load();
      },
    );
  };

  const last = status?.lastSuccessAt ? new Date(status.lastSuccessAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : null;
  return (
    <Dialog title="Waiting changes" onClose={onClose} className="dialog-wide" testId="waiting-dialog" description="Changes saved on this computer (encrypted) that the hospital server has not accepted yet. They are sent by themselves when it can take them.">
      {status && (
        <p className="waiting-summary">
          <span className={`pill ${status.online && !status.serverProblem ? 'pill-ok' : 'pill-warn'}`}>{onlineWords(status)}</span>
          <span>{last ? `Last sent at ${last}` : 'Nothing sent yet in this session'}</span>
          {status.online && status.serverProblem && status.lastError && <span className="muted" data-testid="waiting-server-problem">{status.lastError}</span>}
        </p>
      )}
      {status?.rolledBack && <p className="error" role="alert" data-testid="waiting-rolled-back">{status.rolledBack}</p>}
      {status && status.refusedReasons.length > 0 && (
        <p className="error" data-testid="waiting-refused-reasons">The server refused {status.refused === 1 ? 'a change' : `${status.refused} changes`}: {status.refusedReasons.join(' ')}</p>
      )}
      {status && status.conflicts > 0 && (
        <p>
          <button type="button" className="secondary" onClick={onResolve}>Resolve {status.conflicts === 1 ? 'the conflict' : `${status.conflicts} conflicts`}</button>
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      <p className="sr-only" role="status">{message ?? ''}</p>
      {message && <p className="ok" aria-hidden="true" data-testid="waiting-message">{message}</p>}
      {changes === null && !error && <p className="muted">Loading…</p>}
      {changes?.length === 0 && <p className="ok" data-testid="waiting-none">Nothing is waiting: all changes were sent.</p>}
      {groups.map((g) => (
        <section key={g.key} className="waiting-patient" aria-labelledby={`waiting-${g.key || 'none'}`} data-testid="waiting-patient">
          <h3 id={`waiting-${g.key || 'none'}`}>{g.name}</h3>
          <table className="waiting-table">
            <thead>
              <tr><th scope="col">Change</th><th scope="col">How long</th><th scope="col">State</th><th scope="col">Last error</th><th scope="col"><span className="sr-only">Action</span></th></tr>
            </thead>
            <tbody>
              {g.changes.map((c) => (
                <tr key={c.key} data-testid="waiting-change">
                  <th scope="row">{c.kind}</th>
                  <td>{waitingFor(c.createdAt, now)}</td>
                  <td>{STATE_WORDS[c.state]}{c.attempts > 1 ? ` (${c.attempts} tries)` : ''}</td>
                  <td>{c.lastError ?? <span className="muted">—</span>}</td>
                  <td>
                    {c.undoable && (
                      <button type="button" className="secondary" onClick={() => setUndoing(c)} data-testid="waiting-undo">
                        {c.state === 'refused' ? 'Discard' : 'Undo'}<span className="sr-only"> {c.kind}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
      {truncated && <p className="muted">More changes wait than are listed here.</p>}
      {undoing && (
        <ConfirmDialog
          title={undoing.state === 'refused' ? `Discard the refused ${undoing.kind.toLowerCase()}?` : `Undo ${undoing.kind.toLowerCase()}?`}
          confirmLabel={undoing.state === 'refused' ? 'Discard change' : 'Undo change'}
          onConfirm={() => undo(undoing)}
          onCancel={() => setUndoing(null)}
          testId="undo-confirm"
        >
          <p>
            {undoing.state === 'refused'
              ? <>The server did not take this {undoing.kind.toLowerCase()} for {undoing.patientName ?? 'this patient'}. Discarding it puts back the server's version on this computer.</>
              : <>{undoing.kind} for {undoing.patientName ?? 'this patient'} will not be sent, and the record goes back to what it was before this change.</>}
          </p>
        </ConfirmDialog>
      )}
    </Dialog>
  );
}
