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

/** The updater's status, or null while unknown or when this computer has no updater (UPDATE_UNAVAILABLE). `refresh` asks again at once. */
export function useUpdateStatus(): { status: UpdateStatus | null; refresh(): void } {
  const [status, setStatus] = useState<UpdateStatus | null>(null);
  const alive = useRef(true);
  const refresh = useCallback(() => {
    call(api().update.status({})).then(
      (next) => alive.current && setStatus(next),
      () => alive.current && setStatus(null),
    );
  }, []);
  useEffect(() => {
    alive.current = true;
    refresh();
    const timer = setInterval(refresh, UPDATE_POLL_MS);
    window.addEventListener('focus', refresh);
    return () => {
      alive.current = false;
      clearInterval(timer);
      window.removeEventListener('focus', refresh);
    };
  }, [refresh]);
  return { status, refresh };
}

export const UPDATE_STATE_WORDS: Record<UpdateStatus['state'], string> = {
  off: 'Updates are turned off by your organisation',
  idle: 'Up to date',
  checking: 'Checking for an update…',
  downloading: 'Downloading an update…',
  ready: 'An update is ready',
  failed: 'The last update check failed',
};

/** A failed install in words: what happened, and that nothing was lost. */
export function installErrorWords(err: unknown): string {
  const code = err instanceof ClinicianError ? err.code : 'INTERNAL';
  switch (code) {
    case 'UPDATE_DEFERRED':
      // Main's message says why it waits (a consultation, changes not yet sent): a typed, PHI-free sentence.
      return `Not restarted. ${err instanceof Error && err.message ? err.message : 'The update waits.'}`;
    case 'UPDATE_UNAVAILABLE':
      return 'Not restarted: no verified update is ready any more. Your work is kept.';
    case 'UPDATE_REJECTED':
      return 'Not restarted: the update failed its signature check, so it will not be installed. Your work is kept.';
    default:
      return 'Not restarted: something went wrong. Your work is kept; try again later.';
  }
}
