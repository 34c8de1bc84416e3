/**
 * The sync worker in main: pushes the outbox to the backend in order, in
 * batches, whenever it can, then pulls what changed on the backend, then
 * uploads the audit chain (its receipt kept). Failures (network down, a cut
 * connection, a garbled answer) leave the outbox as it was and back off exponentially with
 * jitter; `nudge()` (a new local change, the OS saying the network is back)
 * wakes it at once. Because every entry carries its idempotency key, a push
 * whose answer was lost is simply sent again. Never drop or reorder an entry.
 */
import { AppError } from '../../shared/app-error';
import { MAX_PUSH_CHANGES } from '../../shared/sync-api';
import type { BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { heldCount, pendingChanges, settle } from './outbox';
import { isSessionEnded } from './backend-client';
import { uploadAuditChain } from './audit-upload';
import { pullChanges } from './sync-pull';

export const HELD_MESSAGE = 'Some changes wait for your passkey: sign in online to see whether they conflict.';

export interface SyncStatus {
  online: boolean;
  lastSuccessAt: number | null;
  lastError: string | null;
  failures: number;
}

export interface SyncWorkerOptions {
  backend: BackendClient;
  session(): CacheSession | null;
  token(): string | null;
  /** Called when there is no token: may get one (a sync-only session after an offline unlock). */
  authorize?(): Promise<void>;
  /**
   * Whether the token is a passkey session: it may pull, and conflicts held
   * for want of content are sent again on it (a sync-only session does neither).
   */
  pullAllowed?(): boolean;
  /** The backend ended the session (401 SESSION_INVALID): drop the token; nothing is wiped. */
  sessionEnded?(token: string): void;
  /** The backend says the device or clinician is revoked: the app wipes (not awaited here: the wipe stops this worker). */
  revoked?(message: string): void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Changes per push (at most MAX_PUSH_CHANGES). */
  batchSize?: number;
  random?: () => number;
  clock?: () => number;
}

export class SyncWorker {
  readonly status: SyncStatus = { online: true, lastSuccessAt: null, lastError: null, failures: 0 };
  private running = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private generation = 0;
  /** Held entries already sent again on `releasedFor` (each once per passkey session, so no loop). */
  private released = new Set<string>();
  private releasedFor: string | null = null;

  constructor(private readonly options: SyncWorkerOptions) {}

  /** Delay before the next try after `failures` failures in a row: exponential, capped, with jitter. */
  backoffMs(failures: number): number {
    const base = this.options.baseDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 60_000;
    const ceiling = Math.min(max, base * 2 ** Math.min(failures, 20));
    return ceiling * (0.5 + (this.options.random ?? Math.random)() * 0.5);
  }

  /** Pushes one batch. Returns how many entries the backend answered for (0: nothing to do). */
  async pushOnce(): Promise<number> {
    const session = this.options.session();
    const token = this.options.token();
    if (!session || !token) return 0;
    if (this.releasedFor !== token) {
      this.released = new Set();
      this.releasedFor = token;
    }
    const passkey = this.options.pullAllowed?.() ?? true;
    const batch = pendingChanges(session, Math.min(this.options.batchSize ?? MAX_PUSH_CHANGES, MAX_PUSH_CHANGES), (key) => passkey && !this.released.has(key));
    if (batch.length === 0) return 0;
    for (const entry of batch) if (entry.held) this.released.add(entry.idempotencyKey);
    const { results } = await this.options.backend.push(
      token,
      batch.map(({ idempotencyKey, resourceType, id, baseVersion, resource }) => ({ idempotencyKey, resourceType, id, baseVersion, resource })),
    );
    const sent = new Set(batch.map((b) => b.idempotencyKey));
    if (results.some((r) => !sent.has(r.idempotencyKey))) {
      throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server answered for changes that were not sent.');
    }
    settle(session, results);
    return results.length;
  }

  /** Pushes until the outbox is empty or a push fails, then pulls and uploads the audit chain; records the outcome. */
  async drain(): Promise<boolean> {
    let token: string | null = null;
    try {
      if (this.options.session() && !this.options.token()) await this.options.authorize?.();
      token = this.options.token();
      while ((await this.pushOnce()) > 0) {
        this.status.online = true;
        this.status.lastSuccessAt = (this.options.clock ?? Date.now)();
      }
      const session = this.options.session();
      token = this.options.token();
      const passkey = this.options.pullAllowed?.() ?? true;
      if (session && token) {
        if (passkey) await pullChanges(session, this.options.backend, token);
        await uploadAuditChain(session, this.options.backend, token);
      }
      this.status.online = true;
      this.status.failures = 0;
      // Work held for want of content waits for the clinician's passkey: say so.
      this.status.lastError = session && !passkey && heldCount(session) > 0 ? HELD_MESSAGE : null;
      return true;
    } catch (err) {
      this.status.failures++;
      if (isSessionEnded(err) && token) {
        // An expired server session is not a revocation: keep everything, drop the token, try again.
        this.options.sessionEnded?.(token);
        this.status.online = true;
        this.status.lastError = err.message;
        return false;
      }
      if (err instanceof AppError && err.code === 'DEVICE_REVOKED') this.options.revoked?.(err.message);
      this.status.online = !(err instanceof AppError && err.code === 'BACKEND_UNREACHABLE');
      this.status.lastError = err instanceof AppError ? err.message : 'Sync failed unexpectedly.';
      return false;
    }
  }

  /** Runs until stop(): drain, then wait (backoff after a failure, `idleMs` otherwise) or a nudge. */
  start(idleMs = 30_000): void {
    if (this.running) return;
    this.running = true;
    // A loop stopped but still finishing its drain must not carry on beside the new one.
    const generation = ++this.generation;
    const live = () => this.running && this.generation === generation;
    this.loop = (async () => {
      while (live()) {
        const ok = await this.drain();
        if (!live()) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, ok ? idleMs : this.backoffMs(this.status.failures - 1));
          this.wake = done;
          function done() {
            clearTimeout(timer);
            resolve();
          }
        });
        this.wake = null;
      }
    })();
  }

  nudge(): void {
    this.wake?.();
  }

  /** The OS reports the network: back means try now (backoff forgotten); gone is shown at once. */
  networkChanged(online: boolean): void {
    if (online) {
      this.status.failures = 0;
      this.nudge();
    } else {
      this.status.online = false;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }
}
