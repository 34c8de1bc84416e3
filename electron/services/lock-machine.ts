/**
 * The sign-in and lock state machine: signed-out, locked, unlocking,
 * unlocked. Idle time is measured on a monotonic clock (performance.now),
 * injected apart from the wall clock, so setting the computer's clock back
 * (or forward) never delays or hastens the idle lock; the wall clock only
 * stamps `since` for display. Tests inject both and advance them instead of
 * sleeping. Never measure idle time with Date.now. OS screen lock, sleep,
 * the lock button, quit and
 * revocation are events. "unlocking" is a sign-in, unlock or enrollment under
 * way (awaiting the keychain, the backend or the first pull); each one has an
 * attempt number, and only the attempt that is still current may finish as
 * unlocked: a lock that arrives meanwhile wins. It only decides; the desktop
 * session acts on its transitions (closing the cache, dropping keys). Every
 * change bumps `version` for watchers.
 */

export type LockReason = 'idle' | 'screen-lock' | 'sleep' | 'manual' | 'quit' | 'signed-in-elsewhere' | 'revoked';
export type LockState =
  | { kind: 'signed-out'; reason: string | null }
  | { kind: 'locked'; reason: LockReason | 'start' }
  | { kind: 'unlocking'; attempt: number; from: 'signed-out' | 'locked' }
  | { kind: 'unlocked'; since: number };

export type Clock = () => number;

/** Milliseconds that only ever move forward (not across sleep on every OS): what idle time is counted on. */
export const monotonicNow: Clock = () => performance.now();

export class LockMachine {
  private current: LockState;
  /** Monotonic time of the last activity (or the unlock). */
  private lastActivity = 0;
  private changeVersion = 0;
  private attempts = 0;
  private readonly listeners = new Set<(s: LockState) => void>();

  constructor(
    initial: LockState,
    private idleMs: number,
    private readonly clock: Clock = Date.now,
    /** The monotonic clock idle time is counted on; the session's other time rules read it too. */
    readonly monotonic: Clock = monotonicNow,
  ) {
    this.current = initial;
  }

  get state(): LockState {
    return this.current;
  }

  get version(): number {
    return this.changeVersion;
  }

  onChange(listener: (s: LockState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setIdleMinutes(minutes: number): void {
    this.idleMs = minutes * 60_000;
  }

  private go(next: LockState): void {
    this.current = next;
    this.changeVersion++;
    for (const l of this.listeners) l(next);
  }

  /**
   * A sign-in, unlock or enrollment starts: returns its attempt number. A
   * second one started meanwhile replaces the first (which can then no
   * longer finish).
   */
  beginUnlock(): number {
    const from = this.current.kind === 'signed-out' ? 'signed-out' : this.current.kind === 'unlocking' ? this.current.from : 'locked';
    const attempt = ++this.attempts;
    this.go({ kind: 'unlocking', attempt, from });
    return attempt;
  }

  /** Whether `attempt` is the unlock under way (no lock, no other attempt came since). */
  isCurrent(attempt: number): boolean {
    return this.current.kind === 'unlocking' && this.current.attempt === attempt;
  }

  /** Finishes attempt `attempt` as unlocked; false (and no change) when it was overtaken. */
  unlockedBy(attempt: number): boolean {
    if (!this.isCurrent(attempt)) return false;
    this.unlocked();
    return true;
  }

  /** An attempt failed on its own: back to where it started (nothing else happened meanwhile). */
  abandon(attempt: number): void {
    if (!this.isCurrent(attempt)) return;
    const from = (this.current as { from: 'signed-out' | 'locked' }).from;
    this.go(from === 'signed-out' ? { kind: 'signed-out', reason: null } : { kind: 'locked', reason: 'start' });
  }

  /** Unconditional unlock, for tests of the idle policy; the app unlocks through `unlockedBy`. */
  unlocked(): void {
    this.lastActivity = this.monotonic();
    this.go({ kind: 'unlocked', since: this.clock() });
  }

  /**
   * Locks if unlocked or unlocking (an unlock under way is aborted: it can no
   * longer finish); returns whether it did.
   */
  lock(reason: LockReason): boolean {
    if (this.current.kind !== 'unlocked' && this.current.kind !== 'unlocking') return false;
    this.go({ kind: 'locked', reason });
    return true;
  }

  /** An enrolled device starts locked. */
  startLocked(): void {
    this.go({ kind: 'locked', reason: 'start' });
  }

  signedOut(reason: string | null): void {
    this.go({ kind: 'signed-out', reason });
  }

  /** The clinician did something: pushes the idle deadline back. */
  activity(): void {
    if (this.current.kind === 'unlocked') this.lastActivity = this.monotonic();
  }

  /** Whether the idle time has run out while unlocked (the caller then locks). */
  isIdle(): boolean {
    return this.current.kind === 'unlocked' && this.monotonic() - this.lastActivity >= this.idleMs;
  }
}
