/**
 * The one owner of the desktop's session: the lock state, the open cache
 * (and so the keys in memory) and the backend token. Every other service
 * asks it; only sign-in flows hand it a cache and a token, and only through
 * an unlock attempt that a lock can overtake. A lock, screen lock, sleep,
 * quit or revocation that arrives while an attempt awaits the keychain, the
 * backend or the pull aborts it at once: whatever the attempt had opened is
 * closed, its token dropped and logged out, and it can no longer finish as
 * unlocked. Never hand out the cache unless unlocked, never keep a token or
 * a key past a lock, and never let a logout delay or fail a lock.
 */
import { AppError } from '../../../shared/app-error';
import type { BackendClient } from '../backend-client';
import type { CacheSession } from '../cache-session';
import { LockMachine, monotonicNow, type LockReason, type LockState } from '../lock-machine';

/** A passkey session (verified by the backend) or a sync-only one (the device key). */
export type TokenScope = 'passkey' | 'device';

export const DEFAULT_IDLE_MINUTES = 10;

/** One sign-in, unlock or enrollment under way. */
export interface UnlockAttempt {
  readonly id: number;
  /** Throws LOCKED when a lock (or another attempt) overtook this one. */
  check(): void;
  /** Hands the attempt a cache it opened: if overtaken, the cache is closed at once and LOCKED thrown. */
  adoptCache(cache: CacheSession): CacheSession;
  /** Hands the attempt a token it got: if overtaken, it is logged out at once and LOCKED thrown. */
  adoptToken(token: string): string;
}

interface AttemptHeld {
  id: number;
  cache: CacheSession | null;
  token: string | null;
}

function overtaken(): AppError {
  return new AppError('LOCKED', 'The app was locked while signing in. Sign in again to continue.');
}

export class DesktopSession {
  readonly lock: LockMachine;
  private cache: CacheSession | null = null;
  private token: string | null = null;
  private scope: TokenScope | null = null;
  private attempt: AttemptHeld | null = null;
  /** Whether the last sign-in was verified by the backend (shown as online/offline). */
  private verifiedOnline = true;
  private readonly endListeners = new Set<() => void>();
  private readonly logouts = new Set<Promise<boolean>>();
  private readonly closes = new Set<Promise<void>>();

  constructor(
    private readonly backend: BackendClient,
    clock: () => number,
    /** Idle time is counted on this monotonic clock, never on the wall clock (which can be set back). */
    monotonic: () => number = monotonicNow,
  ) {
    this.lock = new LockMachine({ kind: 'signed-out', reason: null }, DEFAULT_IDLE_MINUTES * 60_000, clock, monotonic);
  }

  /** The open cache, only while unlocked: what every PHI handler asks for. */
  openCache(): CacheSession | null {
    return this.lock.state.kind === 'unlocked' ? this.cache : null;
  }

  /** Who the open cache acts for (null when none is open). */
  actor(): string | null {
    return this.openCache()?.context.actor ?? null;
  }

  currentToken(): string | null {
    return this.lock.state.kind === 'unlocked' ? this.token : null;
  }

  /** A token from a passkey the backend verified: may pull and read conflict content. */
  hasPasskeySession(): boolean {
    return this.currentToken() !== null && this.scope === 'passkey';
  }

  get online(): boolean {
    return this.verifiedOnline;
  }

  /** The sign-in flow learned whether the backend is reachable (shown until the next one). */
  setOnline(online: boolean): void {
    this.verifiedOnline = online;
  }

  /** Called (synchronously) whenever the session ends: lock, sign-out, wipe. */
  onEnd(listener: () => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Starts an unlock attempt: the lock machine moves to "unlocking". */
  begin(): UnlockAttempt {
    this.abortAttempt();
    const held: AttemptHeld = { id: this.lock.beginUnlock(), cache: null, token: null };
    this.attempt = held;
    const live = () => this.attempt === held && this.lock.isCurrent(held.id);
    return {
      id: held.id,
      check: () => {
        if (!live()) throw overtaken();
      },
      adoptCache: (cache) => {
        if (!live()) {
          this.closeCache(cache);
          throw overtaken();
        }
        held.cache = cache;
        return cache;
      },
      adoptToken: (token) => {
        if (!live()) {
          this.logout(token);
          throw overtaken();
        }
        held.token = token;
        return token;
      },
    };
  }

  /**
   * Finishes an attempt as unlocked with what it adopted. Throws LOCKED (and
   * keeps nothing) when a lock overtook it meanwhile.
   */
  finish(attempt: UnlockAttempt, parts: { scope: TokenScope | null; idleMinutes: number }): void {
    attempt.check();
    const held = this.attempt!;
    if (!held.cache) throw new AppError('INTERNAL', 'The unlock finished without a cache.');
    this.attempt = null;
    this.cache = held.cache;
    this.token = held.token;
    this.scope = held.token ? parts.scope : null;
    this.lock.setIdleMinutes(parts.idleMinutes);
    this.lock.unlockedBy(attempt.id);
  }

  /**
   * An attempt failed. If it is still the current one, what it adopted is
   * closed and the lock goes back to where it was; the error to throw is
   * returned (LOCKED when a lock had overtaken it: that is why it failed).
   */
  fail(attempt: UnlockAttempt, err: unknown): unknown {
    const held = this.attempt;
    if (held && held.id === attempt.id && this.lock.isCurrent(attempt.id)) {
      this.attempt = null;
      this.release(held);
      this.lock.abandon(attempt.id);
      return err;
    }
    // Overtaken: the lock is why it failed (a revocation still counts: the device must be wiped).
    return err instanceof AppError && err.code === 'DEVICE_REVOKED' ? err : overtaken();
  }

  /** A sync-only token for the open cache (after an offline unlock); refused if the cache changed meanwhile. */
  setDeviceToken(forCache: CacheSession, token: string): boolean {
    if (this.openCache() !== forCache || this.token !== null) {
      this.logout(token);
      return false;
    }
    this.token = token;
    this.scope = 'device';
    return true;
  }

  /**
   * The backend says the session ended (idle or absolute expiry): forget the
   * token, keep the cache open (the clinician unlocked it with the passkey
   * locally). Later syncs use a sync-only session until the next sign-in.
   */
  sessionEnded(token: string): void {
    if (this.token !== token) return;
    this.token = null;
    this.scope = null;
    this.verifiedOnline = false;
  }

  /** Locks: any attempt under way is aborted; the cache closes, keys and token are dropped (the token logged out). */
  lockNow(reason: LockReason): void {
    this.end();
    this.lock.lock(reason);
  }

  /** Signs out (revocation, wipe, a refused enrollment): as a lock, then signed out with `reason`. */
  signOut(reason: string | null): void {
    this.end();
    this.lock.signedOut(reason);
  }

  /** After an attempt failed on its own with nothing enrolled: signed out, unless something else started since. */
  settleSignedOut(reason: string | null): void {
    const kind = this.lock.state.kind;
    if (kind === 'unlocking' || kind === 'unlocked') return;
    this.lock.signedOut(reason);
  }

  get state(): LockState {
    return this.lock.state;
  }

  private end(): void {
    this.abortAttempt();
    const cache = this.cache;
    const token = this.token;
    this.cache = null;
    this.token = null;
    this.scope = null;
    for (const l of this.endListeners) l();
    if (token) this.logout(token);
    this.closeCache(cache);
  }

  private abortAttempt(): void {
    const held = this.attempt;
    this.attempt = null;
    if (held) this.release(held);
  }

  private release(held: AttemptHeld): void {
    const { cache, token } = held;
    held.cache = null;
    held.token = null;
    if (token) this.logout(token);
    this.closeCache(cache);
  }

  /**
   * Closes a cache: its store refuses calls at once (so a lock never waits);
   * its worker signs the head, closes and zeroes the key in the background.
   */
  private closeCache(cache: CacheSession | null): void {
    if (!cache) return;
    const done = cache.close();
    this.closes.add(done);
    void done.finally(() => this.closes.delete(done));
  }

  /** For quit: resolves once every cache closed here has finished closing (close never rejects). */
  async cachesClosed(): Promise<void> {
    await Promise.all([...this.closes]);
  }

  /** Best effort, in the background: never awaited by a lock, never throws. */
  private logout(token: string): void {
    const sent = this.backend.logout(token);
    this.logouts.add(sent);
    void sent.finally(() => this.logouts.delete(sent));
  }

  /** For quit: waits for logouts still in flight, at most `timeoutMs` (they never throw). */
  async logoutsSettled(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.logouts]).then(() => undefined), deadline]);
    clearTimeout(timer);
  }
}
