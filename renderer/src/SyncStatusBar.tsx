/**
 * Always-visible sync status: online, offline, or a server that answers but
 * fails (its changes are kept and sent again), how many changes are
 * waiting on this computer (they are safe: encrypted, in the outbox), when
 * the last sync succeeded, changes the server keeps failing on, changes it
 * refused (with its reasons), a cache found rolled back (restored from an
 * older copy or a lost WAL: said plainly, work goes on), and any conflict that needs the clinician (a
 * click opens the conflict view). Passes the OS's online and
 * offline events to main so the worker retries at once. Polls main; holds
 * no PHI.
 */
import { useEffect, useState } from 'react';
import type { SyncStatus } from '../../shared/contract';
import { api, call } from './clinician';

const POLL_MS = 1500;

export function SyncStatusBar({ onResolve }: { onResolve(): void }) {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  useEffect(() => {
    let stopped = false;
    let wake: (() => void) | null = null;
    const poll = async () => {
      while (!stopped) {
        try {
          setStatus(await call(api().sync.status({})));
        } catch {
          setStatus(null);
        }
        await new Promise<void>((r) => {
          const timer = setTimeout(r, POLL_MS);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
    };
    const network = (online: boolean) => () => {
      void api().sync.networkChanged({ online }).then(() => wake?.());
    };
    const onOnline = network(true);
    const onOffline = network(false);
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    void poll();
    return () => {
      stopped = true;
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
    };
  }, []);
  if (!status) return null;
  const last = status.lastSuccessAt ? new Date(status.lastSuccessAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : null;
  return (
    <span className="sync-status" data-testid="sync-status" role="status" aria-live="polite">
      <span className={`pill ${status.online && !status.serverProblem ? 'pill-ok' : 'pill-warn'}`} data-testid="sync-online">
        {!status.online ? 'Offline' : status.serverProblem ? 'Server problem' : 'Online'}
      </span>
      <span data-testid="sync-waiting">
        {status.waiting === 0 ? 'All changes saved to the hospital server' : `${status.waiting} change${status.waiting === 1 ? '' : 's'} waiting (safe on this computer)`}
      </span>
      {last && <span className="muted-light">last sync {last}</span>}
      {status.conflicts > 0 && (
        <button type="button" className="pill pill-bad" onClick={onResolve} data-testid="sync-conflicts">{status.conflicts} to resolve</button>
      )}
      {status.online && status.serverProblem && status.lastError && (
        <span className="muted-light" data-testid="sync-problem">{status.lastError}</span>
      )}
      {status.rolledBack && (
        <span className="pill pill-warn" role="alert" data-testid="sync-rolled-back">{status.rolledBack}</span>
      )}
      {status.failing > 0 && (
        <span className="pill pill-warn" data-testid="sync-failing" title="The hospital server could not take these changes yet; they are kept and sent again.">
          {status.failing} not taken yet
        </span>
      )}
      {status.refused > 0 && (
        <span className="pill pill-bad" data-testid="sync-refused" title={status.refusedReasons.join(' ')}>
          {status.refused} refused{status.refusedReasons.length > 0 ? `: ${status.refusedReasons.join(' ')}` : ''}
        </span>
      )}
    </span>
  );
}
