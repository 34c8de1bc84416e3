/**
 * The sign-in and lock state machine: signed-out, locked, unlocked. Idle
 * time is measured with an injectable clock (so tests advance time instead
 * of sleeping); OS screen lock, sleep, the lock button and quit are events.
 * It only decides; the auth service acts on its transitions (closing the
 * cache, dropping keys). Every change bumps `version` for watchers.
 */

export type LockReason = 'idle' | 'screen-lock' | 'sleep' | 'manual' | 'quit' | 'signed-in-elsewhere';
export type LockState =
  | { kind: 'signed-out'; reason: string | null }
  | { kind: 'locked'; reason: LockReason | 'start' }
  | { kind: 'unlocked'; since: number };

export type Clock = () => number;

export class LockMachine {
  private current: LockState;
  private lastActivity = 0;
  private changeVersion = 0;
  private readonly listeners = new Set<(s: LockState) => void>();

  constructor(
    initial: LockState,
    private idleMs: number,
    private readonly clock: Clock = Date.now,
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

  unlocked(): void {
    this.lastActivity = this.clock();
    this.go({ kind: 'unlocked', since: this.lastActivity });
  }

  /** Locks if unlocked; returns whether it did. */
  lock(reason: LockReason): boolean {
    if (this.current.kind !== 'unlocked') return false;
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
    if (this.current.kind === 'unlocked') this.lastActivity = this.clock();
  }

  /** Whether the idle time has run out while unlocked (the caller then locks). */
  isIdle(): boolean {
    return this.current.kind === 'unlocked' && this.clock() - this.lastActivity >= this.idleMs;
  }
}
