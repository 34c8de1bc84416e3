/**
 * The sync worker in main: pushes the outbox to the backend in order, in
 * batches, whenever it can, then pulls what changed on the backend, then
 * uploads the audit chain (its receipt kept). Failures (network down, a cut
 * connection, a garbled answer) leave the outbox as it was and back off
 * exponentially with jitter; `nudge()` (a new local change, the OS saying
 * the network is back) wakes it at once. Because every entry carries its
 * idempotency key, a push whose answer was lost is simply sent again.
 *
 * One loop, ever: drains run one at a time, and a loop started while a
 * stopped one is still finishing its drain waits for it. A server that
 * answers 5xx is a server problem, not "offline": a batch that keeps failing
 * is halved until the one change the server fails on is found; that change
 * is set aside for a while (counted, shown) and the changes after it go on,
 * except later changes of the same resource, which wait behind it. A change
 * is set aside only when the backend's /healthz answers (the server is up and
 * fails on that change); when it does not, the server is failing as a whole
 * and every change set aside since the last push it took is taken back, so
 * an outage never leaves work set aside. Set-aside times run on a monotonic
 * clock (a wall clock set back does not lengthen them). A push is capped by
 * size (MAX_PUSH_BYTES) and one answered 413 is halved. The last success is
 * recorded only when the server took something. A
 * session the backend ended is renewed once, at once, through `authorize`.
 * One push ahead: once a push is answered, the next is read and sent before
 * that answer is settled (pushAll), leaving out the changes being settled
 * and their resources' later changes; one push is on the wire at a time.
 * Never drop or reorder an entry of one resource; never run two drains.
 *
 * The undo window: a local change is held on this computer for
 * `undoSeconds` (the organisation's policy) before it may be pushed, so the
 * clinician can take it back (change-undo.ts). The pending list is cut at
 * the first entry younger than the window (later ones are younger still)
 * and the loop wakes when it comes of age. Its age is the longer of its age
 * by the wall clock (created_at: a change made before a restart is not
 * held again) and the time since this worker first saw it on the monotonic
 * clock (a wall clock set back does not hold it longer than the window).
 * Held changes are in the outbox already: a lock or quit keeps them, and
 * they go at the next start. A push that failed before its connection was
 * made (NotReachedError: refused, no such host, no route) gives its attempt
 * back, since nothing can have reached the backend; any other failure
 * counts (the change may be there).
 */
import { AppError } from '../../shared/app-error';
import { MAX_PUSH_BYTES, MAX_PUSH_CHANGES, type ChangeResult } from '../../shared/sync-api';
import { DEFAULT_UNDO_SECONDS } from '../../shared/backend-api';
import type { SyncProgress } from '../../shared/contract';
import { NotReachedError, type BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { changesSince, heldCount, markSent, pendingChanges, settle, stillQueued, unmarkSent, type OutboxEntry } from './outbox';
import { isBackendDown, isSessionEnded, outgoingChangeJson, TooLargeError } from './backend-client';
import { uploadAuditChain } from './audit-upload';
import { pullChanges } from './sync-pull';

/** A batch read from the outbox and counted as sent: on its way to the backend. */
interface Outgoing {
  session: CacheSession;
  token: string;
  /** What is sent: outgoingChangeJson writes only a change's own fields, never seq, attempts or held. */
  batch: OutboxEntry[];
  keys: string[];
  /** Monotonic time the batch was read (set-aside times count from it). */
  now: number;
}

/** What came back for a push: its answers, or why there are none. */
type Reply = { results: ChangeResult[] } | { error: unknown };

/** Whether every answer is for a change this push sent (else the answer is garbled: it settles nothing). */
function answersOnlySent(out: Outgoing, results: ChangeResult[]): boolean {
  const sent = new Set(out.keys);
  return results.every((r) => sent.has(r.idempotencyKey));
}

export const HELD_MESSAGE = 'Some changes wait for your passkey: sign in online to see whether they conflict.';
export const FAILING_MESSAGE = 'The hospital server could not take some changes; they are kept on this computer and will be sent again.';

/** 5xx answers in a row to batches before the batch is halved. */
const SPLIT_AFTER = 2;
/** 5xx answers to a change sent alone before it is set aside. */
const SET_ASIDE_AFTER = 3;

export interface SyncStatus {
  /** The backend answered the last try (false: unreachable, or the OS says the network is gone). */
  online: boolean;
  /** The backend answered the last try with a failure of its own (5xx): it has a problem, the device is not offline. */
  serverProblem: boolean;
  /** Changes set aside because the server keeps failing on them (sent again later). */
  failing: number;
  lastSuccessAt: number | null;
  lastError: string | null;
  failures: number;
  /** Idempotency keys of the push in flight now (sent, not yet settled): such a change can no longer be undone. */
  sending: ReadonlySet<string>;
  /** Idempotency keys of changes set aside (the server keeps failing on them), each with when it may go again. */
  setAside: ReadonlyMap<string, number>;
  /** When (wall clock, ms) the oldest change held for the undo window may go; null when none is held. */
  heldUntil: number | null;
  /** A long pull run under way (a first sync): counts and the time left; null otherwise (./pull-progress.ts). */
  progress: SyncProgress | null;
}

export interface SyncWorkerOptions {
  backend: BackendClient;
  session(): CacheSession | null;
  token(): string | null;
  /** Called when there is no token: may get one (a sync-only session after an offline unlock, or after the backend ended one). */
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
  /** How long a change the server keeps failing on is set aside before it is tried again (default 5 minutes). */
  setAsideMs?: number;
  random?: () => number;
  /** Wall clock, for lastSuccessAt (default Date.now). */
  clock?: () => number;
  /** Monotonic clock set-aside times run on: performance.now, or `clock` when a test injects only that. */
  monotonic?: () => number;
  /**
   * Seconds a local change is held before it may be pushed, so it can be
   * undone: the organisation's `undoSeconds`, read before each push
   * (default DEFAULT_UNDO_SECONDS; 0 sends at once).
   */
  undoSeconds?: number | (() => number | Promise<number>);
  /** Sets the loop's wake-up (default setTimeout) and returns its cancel; tests inject it to see and fire wake-ups. */
  schedule?: (ms: number, fire: () => void) => () => void;
}

function defaultSchedule(ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
}

/**
 * Gives back the attempt counted for a push that never reached the backend
 * (its connection was never made): the entries are again "on this computer
 * only" and may be undone. One store call; a closed cache (a lock meanwhile)
 * leaves the attempt counted, which only ever errs on the safe side.
 */
export async function giveBackAttempt(session: CacheSession, keys: string[]): Promise<void> {
  try {
    await unmarkSent(session, keys);
  } catch {
    // The cache closed meanwhile: the attempt stays counted (the change is treated as possibly sent).
  }
}

export class SyncWorker {
  /** Changes set aside, by idempotency key: when each may be tried again. */
  private readonly asideUntil = new Map<string, number>();
  /** The push in flight: added before it is sent, removed once its answer is settled (or it failed). */
  private readonly sending = new Set<string>();
  readonly status: SyncStatus = {
    online: true,
    serverProblem: false,
    failing: 0,
    lastSuccessAt: null,
    lastError: null,
    failures: 0,
    sending: this.sending,
    setAside: this.asideUntil,
    heldUntil: null,
    progress: null,
  };
  /** When this worker first saw each change still inside the undo window by the wall clock (monotonic ms). */
  private firstSeen = new Map<string, number>();
  /** When (monotonic ms) the oldest held change comes of age (null: none held), for the loop's next wake-up. */
  private holdUntil: number | null = null;
  private running = false;
  private wake: (() => void) | null = null;
  /** A nudge that came while no loop was waiting: the next wait ends at once. */
  private nudged = false;
  /** The current loop (or the one it waits behind); resolves when it has ended. */
  private loop: Promise<void> = Promise.resolve();
  /** The last drain queued: the next one starts only after it. */
  private drains: Promise<unknown> = Promise.resolve();
  private generation = 0;
  /** Held entries already sent again on `releasedFor` (each once per passkey session, so no loop). */
  private released = new Set<string>();
  private releasedFor: string | null = null;
  /** Largest batch to send while a failing change is being looked for (null: the full batch). */
  private cap: number | null = null;
  /** 5xx answers in a row to batches of more than one change. */
  private failedInRow = 0;
  /** 5xx answers to each change sent alone. */
  private aloneFailures = new Map<string, number>();
  /** Changes set aside since the server last took a push: not yet known to be the cause. */
  private unconfirmed = new Set<string>();

  constructor(private readonly options: SyncWorkerOptions) {}

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  private monotonicNow(): number {
    return (this.options.monotonic ?? this.options.clock ?? (() => performance.now()))();
  }

  /** Counts the OS's "network gone" reports: a drain begun before the latest one never says online. */
  private offlineReports = 0;

  /** Delay before the next try after `failures` failures in a row: exponential, capped, with jitter. */
  backoffMs(failures: number): number {
    const base = this.options.baseDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 60_000;
    const ceiling = Math.min(max, base * 2 ** Math.min(failures, 20));
    return ceiling * (0.5 + (this.options.random ?? Math.random)() * 0.5);
  }

  private async undoWindowMs(): Promise<number> {
    const option = this.options.undoSeconds ?? DEFAULT_UNDO_SECONDS;
    const seconds = typeof option === 'number' ? option : await option();
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 120) * 1000 : 0;
  }

  /**
   * The seq of the first pending change still inside the undo window (it and
   * every later change wait), or null when none is; records when it comes of
   * age. Of age when either clock says so (see the header).
   */
  private async undoCut(session: CacheSession, windowMs: number): Promise<number | null> {
    this.holdUntil = null;
    this.status.heldUntil = null;
    if (windowMs <= 0) {
      this.firstSeen.clear();
      return null;
    }
    const wallNow = this.now();
    const monoNow = this.monotonicNow();
    // ISO times compare as text; a created_at ahead of the clock (set back since) counts as young here.
    const young = await changesSince(session, new Date(wallNow - windowMs).toISOString());
    const seen = new Map<string, number>();
    let cut: number | null = null;
    for (const row of young) {
      const first = this.firstSeen.get(row.idempotencyKey) ?? monoNow;
      seen.set(row.idempotencyKey, first);
      if (cut !== null) continue;
      const wallLeft = Date.parse(row.createdAt) + windowMs - wallNow;
      const monoLeft = first + windowMs - monoNow;
      if (wallLeft <= 0 || monoLeft <= 0) continue;
      cut = row.seq;
      const left = Number.isFinite(wallLeft) ? Math.min(wallLeft, monoLeft) : monoLeft;
      this.holdUntil = monoNow + left;
      this.status.heldUntil = wallNow + left;
    }
    this.firstSeen = seen;
    return cut;
  }

  /**
   * Reads the next batch and counts it as sent (null: nothing to send now).
   * `inFlight`: the keys of a push answered but not yet settled: they, and
   * every later change of their resources, wait (as set-aside entries do),
   * so a change goes out only once the one before it on its resource is
   * settled and it is re-based on that answer.
   */
  private async nextBatch(inFlight: readonly string[]): Promise<Outgoing | null> {
    for (;;) {
      // Read before the batch: from reading it to counting it as sent is one synchronous step.
      const windowMs = await this.undoWindowMs();
      const session = this.options.session();
      const token = this.options.token();
      this.holdUntil = null;
      if (!session || !token) return null;
      if (this.releasedFor !== token) {
        this.released = new Set();
        this.releasedFor = token;
      }
      const passkey = this.options.pullAllowed?.() ?? true;
      const full = Math.min(this.options.batchSize ?? MAX_PUSH_CHANGES, MAX_PUSH_CHANGES);
      const now = this.monotonicNow();
      const aside = [...this.asideUntil].filter(([, until]) => until > now).map(([key]) => key);
      let batch = await pendingChanges(session, Math.min(full, this.cap ?? full), { sendHeld: passkey, heldSentAlready: this.released, setAside: [...aside, ...inFlight] });
      // The undo window: a change younger than it, and every change after it, stays on this computer for now.
      const cut = await this.undoCut(session, windowMs);
      if (cut !== null) {
        const young = batch.findIndex((e) => e.seq >= cut);
        if (young >= 0) batch = batch.slice(0, young);
      }
      if (batch.length === 0) return null;
      // A change set aside before goes alone when its time comes, so it cannot fail a batch again.
      const returning = batch.find((e) => this.asideUntil.has(e.idempotencyKey));
      if (returning) batch = [returning];
      // Capped by size too (the first change always goes, alone if it must), well under the backend's body limit.
      let bytes = 0;
      const fit = batch.findIndex((c) => (bytes += Buffer.byteLength(outgoingChangeJson(c)) + 1) > MAX_PUSH_BYTES);
      if (fit >= 0) batch = batch.slice(0, Math.max(1, fit));
      for (const entry of batch) if (entry.held) this.released.add(entry.idempotencyKey);
      // From here the batch may reach the server: recorded as sent (persisted: an answer lost in a crash still counts) and
      // in flight. Only the entries still queued when counted go: one an undo took back after the batch was read stays back.
      const marked = await markSent(session, batch.map((b) => b.idempotencyKey));
      if (marked.size < batch.length) {
        batch = batch.filter((b) => marked.has(b.idempotencyKey));
        if (batch.length === 0) continue;
      }
      const keys = batch.map((b) => b.idempotencyKey);
      for (const key of keys) this.sending.add(key);
      return { session, token, batch, keys, now };
    }
  }

  /** Sends a batch counted as sent; its answers, or why there are none (never rejects). */
  private post(out: Outgoing): Promise<Reply> {
    return this.options.backend.push(out.token, out.batch).then(
      ({ results }) => ({ results }),
      (error: unknown) => ({ error }),
    );
  }

  /** The push's keys are no longer in flight (settled, failed, or left for the next drain to send again). */
  private landed(out: Outgoing | null): void {
    if (out) for (const key of out.keys) this.sending.delete(key);
  }

  /**
   * Pushes until there is nothing more to send now; false if the drain
   * stopped meanwhile (a lock). One push ahead: once a push is answered, the
   * next batch is read and sent before that answer is settled, so the
   * backend applies one push while this computer settles the one before.
   * Only one push is on the wire at a time, so the backend applies them in
   * the order they were read; the next batch leaves out the changes being
   * settled and their resources' later changes (see nextBatch). A push
   * that fails is handled with nothing else in flight.
   */
  private async pushAll(live: () => boolean, reachable: () => boolean): Promise<boolean> {
    let out = await this.nextBatch([]);
    let reply = out ? this.post(out) : null;
    while (out && reply) {
      let next: Outgoing | null = null;
      let nextReply: Promise<Reply> | null = null;
      let took = false;
      try {
        const answer = await reply;
        if ('error' in answer) await this.failed(out, answer.error);
        else {
          if (!answersOnlySent(out, answer.results)) {
            throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server answered for changes that were not sent.');
          }
          if (live()) {
            try {
              next = await this.nextBatch(out.keys);
            } catch (err) {
              // The next batch could not be read (a lock closed the store meanwhile): this answer is settled first, if it still can be.
              await this.answered(out, answer.results).catch(() => undefined);
              throw err;
            }
            nextReply = next ? this.post(next) : null;
          }
          await this.answered(out, answer.results);
          took = true;
        }
      } catch (err) {
        // A push sent ahead is let finish before the failure is met.
        await this.finishAhead(next, nextReply);
        throw err;
      } finally {
        this.landed(out);
      }
      // A loop stopped meanwhile (a lock) ends here, once the push sent ahead is answered: the next one starts once this drain is over.
      if (!live()) {
        await this.finishAhead(next, nextReply);
        return false;
      }
      if (reachable()) this.status.online = true;
      this.status.serverProblem = false;
      // A change set aside is not a success: only a push the server took is.
      if (took) this.status.lastSuccessAt = this.now();
      out = next ?? (await this.nextBatch([]));
      reply = next ? nextReply : out ? this.post(out) : null;
    }
    return true;
  }

  /**
   * Pushes until nothing more can be sent now (or `live` says stop), without
   * the drain's pull and audit upload: what the benchmarks time. Throws as
   * a drain fails; false if stopped.
   */
  pushPending(live: () => boolean = () => true): Promise<boolean> {
    return this.pushAll(live, () => true);
  }

  /**
   * Lets a push sent ahead finish when the loop ends before its turn (the
   * loop stopped, or the push before it failed): its answers are settled if
   * the store still takes them, a push that never reached the backend gives
   * its attempt back, and anything else leaves it queued, to go again by its
   * keys.
   */
  private async finishAhead(next: Outgoing | null, reply: Promise<Reply> | null): Promise<void> {
    if (!next || !reply) return;
    try {
      const answer = await reply;
      if ('error' in answer) {
        if (answer.error instanceof NotReachedError) await giveBackAttempt(next.session, next.keys);
      } else if (answersOnlySent(next, answer.results)) {
        await this.answered(next, answer.results);
      }
    } catch {
      // The cache closed meanwhile (a lock): the push goes again by its keys, and the backend answers it from what it stored.
    } finally {
      this.landed(next);
    }
  }

  /** Settles a push's answers (validated against what was sent) and forgets its failures. */
  private async answered(out: Outgoing, results: ChangeResult[]): Promise<void> {
    await settle(out.session, results);
    // The server takes other changes again: each change set aside meanwhile is tried once more, alone, at once
    // (after an outage it lands now; one the server really fails on is set aside again at its first failure).
    for (const key of this.unconfirmed) if (this.asideUntil.has(key)) this.asideUntil.set(key, out.now);
    this.unconfirmed.clear();
    this.failedInRow = 0;
    for (const r of results) {
      this.aloneFailures.delete(r.idempotencyKey);
      this.asideUntil.delete(r.idempotencyKey);
    }
  }

  /**
   * A push that got no answers: given back if it never reached the backend,
   * halved if too large (the loop goes on), handled as a server failure on
   * 5xx (serverFailed); anything else fails the drain.
   */
  private async failed(out: Outgoing, err: unknown): Promise<void> {
    // Never connected: nothing reached the backend, so the attempt is given back (still in flight here, so no undo between).
    if (err instanceof NotReachedError) await giveBackAttempt(out.session, out.keys);
    if (err instanceof TooLargeError && out.batch.length > 1) {
      // Too large for the server (a lower limit than ours, a proxy's): send half as many at once.
      this.cap = Math.ceil(out.batch.length / 2);
      return;
    }
    if (err instanceof AppError && err.code === 'BACKEND_FAILED') return this.serverFailed(out.batch, out.now, err);
    throw err;
  }

  /**
   * The backend answered a push with 5xx. A batch that keeps failing is
   * halved; a change that keeps failing alone is set aside (its resource's
   * later changes wait behind it) and the drain goes on with the others,
   * but only if the server says it is up (/healthz): else it is failing as
   * a whole, not on the change, and every change set aside since it last
   * took a push is taken back, so an outage never leaves work set aside.
   */
  private async serverFailed(batch: OutboxEntry[], now: number, err: AppError): Promise<void> {
    if (batch.length > 1) {
      if (++this.failedInRow >= SPLIT_AFTER) {
        this.cap = Math.ceil(batch.length / 2);
        this.failedInRow = 0;
      }
      throw err;
    }
    const key = batch[0]!.idempotencyKey;
    const before = this.asideUntil.has(key);
    const failures = (this.aloneFailures.get(key) ?? 0) + 1;
    // A change set aside before goes back at its first failure.
    if (failures < SET_ASIDE_AFTER && !before) {
      this.aloneFailures.set(key, failures);
      throw err;
    }
    this.aloneFailures.delete(key);
    this.cap = null;
    this.failedInRow = 0;
    try {
      await this.options.backend.healthy();
    } catch (probe) {
      // No answer, or a 5xx: the server fails as a whole (a proxy, its database), not on this change.
      if (isBackendDown(probe)) {
        for (const k of this.unconfirmed) this.asideUntil.delete(k);
        this.unconfirmed.clear();
        this.asideUntil.delete(key);
        throw err;
      }
      // Any other answer (no /healthz behind a proxy): the server is there; the change is what it fails on.
    }
    this.asideUntil.set(key, now + (this.options.setAsideMs ?? 5 * 60_000));
    if (!before) this.unconfirmed.add(key);
  }

  /**
   * Pushes until the outbox is empty or a push fails, then pulls and uploads
   * the audit chain; records the outcome. Runs after any drain still under
   * way, never beside it.
   */
  drain(): Promise<boolean> {
    return this.queueDrain(() => true);
  }

  private queueDrain(live: () => boolean): Promise<boolean> {
    const run = this.drains.then(() => this.drainNow(live));
    this.drains = run.catch(() => undefined);
    return run;
  }

  private async drainNow(live: () => boolean): Promise<boolean> {
    // The backend ending the session is met once per drain with a fresh one (no loop).
    let renewed = false;
    // An answer already on its way when the OS said the network is gone does not turn "Offline" back.
    const reports = this.offlineReports;
    const reachable = () => this.offlineReports === reports;
    for (;;) {
      let token: string | null = null;
      try {
        if (this.options.session() && !this.options.token()) await this.options.authorize?.();
        token = this.options.token();
        if (!(await this.pushAll(live, reachable))) return false;
        if (!live()) return false;
        this.cap = null;
        const session = this.options.session();
        token = this.options.token();
        const passkey = this.options.pullAllowed?.() ?? true;
        if (session && token) {
          if (passkey) await pullChanges(session, this.options.backend, token, { onProgress: (progress) => (this.status.progress = progress) });
          if (!live()) return false;
          await uploadAuditChain(session, this.options.backend, token);
        }
        if (!live()) return true;
        if (reachable()) this.status.online = true;
        this.status.serverProblem = false;
        this.status.failures = 0;
        this.status.failing = await this.countAside(session);
        // Work held for want of content waits for the clinician's passkey; work set aside waits for the server: say so.
        this.status.lastError =
          this.status.failing > 0 ? FAILING_MESSAGE : session && !passkey && (await heldCount(session)) > 0 ? HELD_MESSAGE : null;
        return true;
      } catch (err) {
        if (isSessionEnded(err) && token) {
          // An ended server session is not a revocation: keep everything, drop the token, get a fresh one at once.
          this.options.sessionEnded?.(token);
          if (!renewed && this.options.authorize && this.options.session() && live()) {
            renewed = true;
            continue;
          }
        }
        if (!live()) return false;
        this.status.failures++;
        if (isSessionEnded(err)) {
          if (reachable()) this.status.online = true;
          this.status.serverProblem = false;
          this.status.lastError = err.message;
          return false;
        }
        if (err instanceof AppError && err.code === 'DEVICE_REVOKED') this.options.revoked?.(err.message);
        const code = err instanceof AppError ? err.code : null;
        this.status.online = code !== 'BACKEND_UNREACHABLE' && reachable();
        this.status.serverProblem = code === 'BACKEND_FAILED';
        this.status.failing = await this.countAside(this.options.session());
        this.status.lastError = err instanceof AppError ? err.message : 'Sync failed unexpectedly.';
        return false;
      }
    }
  }

  /** Changes set aside that are still queued (the others were answered, folded into a conflict or discarded). */
  private async countAside(session: CacheSession | null): Promise<number> {
    if (!session || this.asideUntil.size === 0) return this.asideUntil.size;
    let queued: Set<string>;
    try {
      queued = await stillQueued(session, [...this.asideUntil.keys()]);
    } catch {
      return this.asideUntil.size; // the cache closed meanwhile (a lock): counted again at the next drain
    }
    for (const key of this.asideUntil.keys()) if (!queued.has(key)) this.asideUntil.delete(key);
    return this.asideUntil.size;
  }

  /**
   * Runs until stop(): drain, then wait (backoff after a failure, `idleMs`
   * otherwise) or a nudge. Started again while a stopped loop is still
   * finishing its drain, it begins only once that loop has ended.
   */
  start(idleMs = 30_000): void {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    const live = () => this.running && this.generation === generation;
    const previous = this.loop;
    this.loop = previous.then(async () => {
      while (live()) {
        const ok = await this.queueDrain(live);
        if (!live()) break;
        // After a success, wake when the oldest change held for the undo window comes of age, if that is sooner.
        const held = this.holdUntil === null ? Infinity : Math.max(0, Math.ceil(this.holdUntil - this.monotonicNow()));
        const delay = ok ? Math.min(idleMs, held) : this.backoffMs(this.status.failures - 1);
        await new Promise<void>((resolve) => {
          let cancel: (() => void) | null = null;
          const done = () => {
            cancel?.();
            if (this.wake === done) this.wake = null;
            resolve();
          };
          cancel = (this.options.schedule ?? defaultSchedule)(delay, done);
          this.wake = done;
          if (this.nudged || !live()) done();
          this.nudged = false;
        });
      }
    });
  }

  nudge(): void {
    if (this.wake) this.wake();
    else this.nudged = true;
  }

  /** The OS reports the network: back means try now (backoff forgotten); gone is shown at once. */
  networkChanged(online: boolean): void {
    if (online) {
      this.status.failures = 0;
      this.nudge();
    } else {
      this.offlineReports++;
      this.status.online = false;
    }
  }

  /** Stops the loop and resolves once it has ended (its drain finished): a start after this runs alone. */
  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    this.nudged = false;
    await this.loop;
  }
}
