/**
 * Always-visible sync status in the top bar, in few human words: "Online ·
 * All changes sent", "Offline · 3 waiting", "Server problem · 2 waiting".
 * The status is a button that opens the Waiting changes dialog (what waits,
 * for whom, how long, why). Beside it only what needs a hand: conflicts to
 * resolve (opens the conflict view), refused changes, a cache found rolled
 * back; during a long first sync, how far it is (counts and the time left,
 * never PHI). Passes the OS's online and offline events to main so the worker
 * retries at once. Polls main; holds no PHI.
 */
import { useEffect, useState } from 'react';
import type { SyncStatus } from '../../../shared/contract';
import { syncProgressShortWords, syncProgressTinyWords, syncProgressWords } from '../../../shared/progress-words';
import { api, call } from '../clinician';

const POLL_MS = 1500;

export function onlineWords(status: SyncStatus): string {
  return !status.online ? 'Offline' : status.serverProblem ? 'Server problem' : 'Online';
}

export function waitingWords(status: SyncStatus): string {
  return status.waiting === 0 ? 'All changes sent' : `${status.waiting} waiting`;
}

/** Follows main's sync status while `enabled` (polled, woken by the OS's network events). */
export function useSyncStatus(enabled: boolean): SyncStatus | null {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let wake: (() => void) | null = null;
    const poll = async () => {
      while (!stopped) {
        try {
          const next = await call(api().sync.status({}));
          if (!stopped) setStatus(next);
        } catch {
          if (!stopped) setStatus(null);
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
      wake?.();
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
    };
  }, [enabled]);
  return enabled ? status : null;
}

export function SyncStatusBar({ status, onShowWaiting, onResolve }: { status: SyncStatus | null; onShowWaiting(): void; onResolve(): void }) {
  if (!status) return null;
  const healthy = status.online && !status.serverProblem;
  return (
    <span className="sync-status" data-testid="sync-status">
      <button type="button" className="sync-button" onClick={onShowWaiting} data-testid="sync-status-button" aria-haspopup="dialog">
        <span className={`pill ${healthy ? 'pill-ok' : 'pill-warn'}`} data-testid="sync-online">{onlineWords(status)}</span>
        <span data-testid="sync-waiting">{waitingWords(status)}</span>
        <span className="sr-only">: show waiting changes</span>
      </button>
      {status.progress && (
        // A long first sync: the whole sentence where the bar has room, shorter forms where it has not (the whole as tooltip).
        <span className="pill pill-info sync-progress" data-testid="sync-progress" title={syncProgressWords(status.progress)}>
          <span className="sync-progress-long" data-testid="sync-progress-long">{syncProgressWords(status.progress)}</span>
          <span className="sync-progress-short" data-testid="sync-progress-short">{syncProgressShortWords(status.progress)}</span>
          <span className="sync-progress-tiny" data-testid="sync-progress-tiny" aria-hidden="true">{syncProgressTinyWords(status.progress)}</span>
        </span>
      )}
      {/* What a screen reader hears when the status changes (the button's own text is not a live region). */}
      <span className="sr-only" role="status">{`${onlineWords(status)}. ${waitingWords(status)}.${status.progress ? ` ${syncProgressWords(status.progress)}.` : ''}`}</span>
      {status.conflicts > 0 && (
        <button type="button" className="pill pill-bad" onClick={onResolve} data-testid="sync-conflicts" aria-haspopup="dialog">{status.conflicts} to resolve</button>
      )}
      {status.refused > 0 && (
        <button type="button" className="pill pill-bad" onClick={onShowWaiting} data-testid="sync-refused" aria-haspopup="dialog">{status.refused} refused</button>
      )}
      {status.rolledBack && (
        <button type="button" className="pill pill-warn" onClick={onShowWaiting} data-testid="sync-rolled-back" aria-haspopup="dialog">Cache restored</button>
      )}
    </span>
  );
}
