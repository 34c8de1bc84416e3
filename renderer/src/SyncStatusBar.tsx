/**
 * Always-visible sync status: online or offline, how many changes are
 * waiting on this computer (they are safe: encrypted, in the outbox), when
 * the last sync succeeded, and any error or conflict that needs the
 * clinician. Polls main; holds no PHI.
 */
import { useEffect, useState } from 'react';
import type { SyncStatus } from '../../shared/contract';
import { api, call } from './clinician';

const POLL_MS = 1500;

export function SyncStatusBar() {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      while (!stopped) {
        try {
          setStatus(await call(api().sync.status({})));
        } catch {
          setStatus(null);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    void poll();
    return () => {
      stopped = true;
    };
  }, []);
  if (!status) return null;
  const last = status.lastSuccessAt ? new Date(status.lastSuccessAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : null;
  return (
    <span className="sync-status" data-testid="sync-status" role="status" aria-live="polite">
      <span className={`pill ${status.online ? 'pill-ok' : 'pill-warn'}`} data-testid="sync-online">{status.online ? 'Online' : 'Offline'}</span>
      <span data-testid="sync-waiting">
        {status.waiting === 0 ? 'All changes saved to the hospital server' : `${status.waiting} change${status.waiting === 1 ? '' : 's'} waiting (safe on this computer)`}
      </span>
      {last && <span className="muted-light">last sync {last}</span>}
      {status.conflicts > 0 && <span className="pill pill-bad">{status.conflicts} to resolve</span>}
      {status.refused > 0 && <span className="pill pill-bad">{status.refused} refused</span>}
    </span>
  );
}
