/**
 * Test support: holds one cache session (or the reason there is none) for the
 * handler registry, where sign-in is not wired (the cache-only browser test);
 * the app uses the auth service instead. Closing the session drops the keys.
 */
import { AppError } from '../../shared/app-error';
import { openCacheSession, type CacheSession, type OpenSessionOptions } from '../../electron/services/cache-session';
import type { RegistryDeps } from '../../electron/services/handler-registry';

export class CacheHolder implements RegistryDeps {
  private current: CacheSession | null = null;
  private lastProblem: AppError | null = null;
  private actorName: string | null = null;

  async open(options: OpenSessionOptions): Promise<void> {
    this.close();
    this.actorName = options.actor;
    try {
      this.current = await openCacheSession(options);
      this.lastProblem = null;
    } catch (err) {
      this.lastProblem =
        err instanceof AppError ? err : new AppError('CACHE_NOT_OPEN', 'The patient cache could not be opened.');
    }
  }

  close(): void {
    this.current?.close();
    this.current = null;
  }

  session(): CacheSession | null {
    return this.current;
  }

  problem(): AppError | null {
    return this.lastProblem;
  }

  actor(): string | null {
    return this.actorName;
  }
}
