/**
 * The updater's state as the renderer follows it: `update.status` asked on
 * mount, every 60 s and whenever the window gets the focus back (a clinician
 * returning to the app sees a fresh state), never in a busy loop. Also the
 * words for what the updater says and for its typed errors. Holds no PHI;
 * never shows a URL, a path or a key (main never sends one).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { UpdateStatus } from '../../../shared/contract';
import { api, call, ClinicianError } from '../clinician';

export const UPDATE_POLL_MS = 60_000;

/** The updater's status, or null while unknown or when this computer has no updater (UPDATE_UNAVAILABLE). `refresh` asks again at once and resolves with the answer. */
export function useUpdateStatus(): { status: UpdateStatus | null; refresh(): Promise<UpdateStatus | null> } {
  const [status, setStatus] = useState<UpdateStatus | null>(null);
  const alive = useRef(true);
  const refresh = useCallback(
    () =>
      call(api().update.status({})).then(
        (next) => {
          if (alive.current) setStatus(next);
          return next;
        },
        () => {
          if (alive.current) setStatus(null);
          return null;
        },
      ),
    [],
  );
  useEffect(() => {
    alive.current = true;
    const ask = () => void refresh();
    ask();
    const timer = setInterval(ask, UPDATE_POLL_MS);
    window.addEventListener('focus', ask);
    return () => {
      alive.current = false;
      clearInterval(timer);
      window.removeEventListener('focus', ask);
    };
  }, [refresh]);
  return { status, refresh };
}

/**
 * The updater's state as one finished sentence ("Checking for an update…",
 * "Version 2.4.0 is ready to install."), or '' when updates are off and the
 * updater's message (shown beside it) already says why: the reason is said
 * once, in the updater's own words, never guessed.
 */
export function updateStateSentence(status: Pick<UpdateStatus, 'state' | 'availableVersion' | 'message'>): string {
  const version = status.availableVersion;
  switch (status.state) {
    case 'off':
      return status.message ? '' : 'Updates are off.';
    case 'idle':
      return 'Up to date.';
    case 'checking':
      return 'Checking for an update…';
    case 'downloading':
      return version ? `Downloading version ${version}…` : 'Downloading an update…';
    case 'ready':
      return version ? `Version ${version} is ready to install.` : 'An update is ready to install.';
    case 'failed':
      return 'The last update check failed.';
  }
}

/** A failed install in words: what happened, and that nothing was lost. */
export function installErrorWords(err: unknown): string {
  const code = err instanceof ClinicianError ? err.code : 'INTERNAL';
  switch (code) {
    case 'UPDATE_DEFERRED':
      // Main's message says why it waits (a consultation, changes not yet sent): a typed, PHI-free sentence.
      // A deferral for unsent changes opens the confirmation instead (UpdateNotice); never ask to "confirm" here, with no button to do it.
      return `Not restarted. ${err instanceof Error && err.message ? err.message.replace(/[;,]?\s*confirm to update now\.?\s*$/i, '.').replace(/\.\.$/, '.') : 'The update waits.'}`;
    case 'UPDATE_UNAVAILABLE':
      return 'Not restarted: no verified update is ready any more. Your work is kept.';
    case 'UPDATE_REJECTED':
      return 'Not restarted: the update failed its signature check, so it will not be installed. Your work is kept.';
    default:
      return 'Not restarted: something went wrong. Your work is kept; try again later.';
  }
}
