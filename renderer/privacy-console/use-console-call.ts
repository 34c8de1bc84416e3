/**
 * One console API call as page state: busy, its error in the backend's
 * safe words, and the session check (a "not available" answer means the
 * session is gone: the page hands over to sign-in).
 */
import { useCallback, useState } from 'react';
import { ConsoleError, isNotAvailable } from './console-client';

export function useConsoleCall(onSessionGone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await fn();
      } catch (err) {
        if (isNotAvailable(err)) onSessionGone();
        else setError(err instanceof ConsoleError ? err.message : 'Something went wrong.');
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [onSessionGone],
  );
  return { busy, error, run };
}
