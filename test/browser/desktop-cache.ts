/**
 * The test's own connection to a browser desktop's cache file. The signed-in
 * session's store runs in its worker thread, and its keys are bound to the
 * page's passkey (PRF), so a test that looks at rows (or arranges one) opens
 * the same real encrypted cache file beside it (../support/cache-inspect.ts) with
 * the keys from the real keychain, unwrapped with the PRF output the page
 * itself handed to main at enrollment or at its last sign-in: the registry
 * the page is bound to is the app's own, with enrollFinish and signInFinish
 * noting that value on the way through (nothing else changes).
 *
 * Never used by the app; never changes what a call does or answers, and
 * never logs the PRF output.
 */
import type { CacheDatabase } from '../../electron/services/cache-database';
import type { CacheSession } from '../../electron/services/cache-session';
import type { HandlerRegistry } from '../../electron/services/handler-registry';
import type { SecretStore } from '../../electron/services/secret-store';
import { decodePrf } from '../../electron/services/session/passkey-record';
import { inspectCache } from '../support/cache-inspect';

export interface DesktopCache {
  /** `registry` as it is, but the PRF output of each enroll or sign-in finish is kept (for `db`). */
  watch(registry: HandlerRegistry): HandlerRegistry;
  /** The test's connection to `session`'s file (one per session, closed when the session closes). */
  db(session: CacheSession | null): Promise<CacheDatabase>;
}

export function desktopCache(keychain: SecretStore): DesktopCache {
  let prfOutput: Buffer | undefined;
  return {
    watch(registry) {
      return new Proxy(registry, {
        get(target, name, receiver) {
          if (name === 'auth.enrollFinish' || name === 'auth.signInFinish') {
            return (input: { prfOutput?: string }, caller: unknown) => {
              prfOutput = decodePrf(input.prfOutput) ?? prfOutput;
              return (target[name] as (i: unknown, c: unknown) => unknown)(input, caller);
            };
          }
          return Reflect.get(target, name, receiver) as unknown;
        },
      });
    },
    async db(session) {
      if (!session) throw new Error('the cache is not open');
      return inspectCache(session, keychain, prfOutput);
    },
  };
}
