/**
 * Runs the store's calls where the connection lives. `parseStoreCall`
 * checks a call's name and arguments before anything runs; `StoreHost` is
 * the worker's side: a small state machine (new, open, closed) that opens
 * the encrypted file with the key it was sent, answers one request at a time
 * (each call one BEGIN IMMEDIATE transaction, the head signed after the
 * commit when due), and on close signs the head, closes the connection and
 * zeroes the key. It never throws: every message, junk included, gets a
 * reply, and a failure is a typed error shape with no text from SQLite.
 * Never answer a call before open or after close, and never keep the key
 * after close.
 */
import { existsSync, statSync } from 'node:fs';
import type { AuditNetwork } from '../../../shared/audit-entry';
import { AuditChain, describeChainProblem, verifyAuditChain, type ChainHead } from '../audit-chain';
import { openCacheDatabase, type CacheDatabase } from '../cache-database';
import { isDiskFullError } from '../cache-disk-full';
import {
  isStoreCallName,
  storeCallArgs,
  storeCloseArgs,
  storeOpenArgs,
  storeRequestSchema,
  type StoreArgs,
  type StoreCallName,
  type StoreReply,
  type StoreResults,
} from './store-api';
import { invalidStoreRequest, storeClosedError, storeErrorShape } from './store-errors';
import { OUTSIDE_TRANSACTION, storeOperations, type StoreOperation } from './store-operations';
import { emergencyPurposeFor } from './operations/glass-grant-rows';
import { Checkpointer } from './store-checkpointer';
import type { StoreTx } from './store-tx';

/** SQLite's own automatic checkpoint, in WAL pages: what the store's connection runs with while no checkpointer thread does it. */
const AUTO_CHECKPOINT_PAGES = 1000;

/**
 * A -wal file past this size means the checkpointer has not caught up since
 * the WAL last started over (the writer's connection cuts it back to
 * CHECKPOINT_AT_BYTES when it starts over: journal_size_limit), so
 * the next call waits for it, at most WAL_BACKLOG_WAIT_MS.
 */
export const WAL_BACKLOG_BYTES = 64 * 1024 * 1024;

/**
 * The WAL's size past which a commit hands its pages to the checkpointer
 * thread (started then, the first time): 4 MiB, SQLite's own 1,000 pages of
 * 4 KiB. Small commits (a chart opened, an audit entry) wait in the WAL
 * until then, as they would for SQLite's automatic checkpoint, so a session
 * that writes little never starts the thread. The writer's connection cuts
 * the WAL file back to this size when the WAL starts over
 * (journal_size_limit, ../cache-database.ts), so the file's size says how
 * much was written since.
 */
export const CHECKPOINT_AT_BYTES = 4 * 1024 * 1024;
const WAL_BACKLOG_WAIT_MS = 2_000;

function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** A call's name and arguments, checked; throws INVALID_INPUT naming neither a value nor an unknown name. */
export function parseStoreCall(name: string, args: unknown): { name: StoreCallName; args: StoreArgs<StoreCallName> } {
  if (!isStoreCallName(name)) throw invalidStoreRequest('an unknown call');
  const parsed = storeCallArgs[name].safeParse(args);
  if (!parsed.success) throw invalidStoreRequest(`arguments of ${name}`);
  return { name, args: parsed.data as StoreArgs<StoreCallName> };
}

/** Runs one checked call's operation on a transaction the host made. */
export function runOperation<N extends StoreCallName>(tx: StoreTx, name: N, args: StoreArgs<N>): StoreResults[N] {
  return (storeOperations[name] as StoreOperation<N>)(tx, args);
}

/** What `open` answers: whether the chain's unsigned tail checked out (a problem is said by main, which has the warning channel). */
export interface StoreOpened {
  chainProblem: string | null;
  /** The page cache the connection runs with, in KiB (read back from SQLite). */
  cacheKiB: number;
}

/** What `close` answers: the worker's own check that the key bytes it held are all zero now. */
export interface StoreClosed {
  keyZeroed: boolean;
}

interface OpenState {
  db: CacheDatabase;
  audit: AuditChain;
  /** The transferred key bytes: the only copy in this thread, zeroed at close. */
  key: Uint8Array;
  tx: StoreTx;
  /** The thread that checkpoints beside this connection (./store-checkpointer.ts), while it runs. */
  checkpointer: Checkpointer | null;
  /** Whether this connection still checkpoints on its own (until its checkpointer is ready, and again after it stopped). */
  selfCheckpoints: boolean;
  /** Whether every checkpointer thread stopped so far said its key copy is zero. */
  checkpointerKeysZeroed: boolean;
  /** No checkpointer is started again: main lost the folder's writer lock, or one failed. */
  noCheckpointer: boolean;
}

export interface StoreHostOptions {
  /**
   * The checkpointer thread's module (./checkpointer-worker.ts, or its
   * bundle beside the store's). Without it the connection checkpoints on
   * its own thread (a host run in-process).
   */
  checkpointerModule?: string;
}

/** How the host opens the file: the encrypted open in the app (../cache-database.ts); a plaintext one only in the benchmark's baseline worker. */
export type DatabaseOpener = typeof openCacheDatabase;

export class StoreHost {
  constructor(
    private readonly openDatabase: DatabaseOpener = openCacheDatabase,
    private readonly options: StoreHostOptions = {},
  ) {}

  private state: { kind: 'new' } | ({ kind: 'open' } & OpenState) | { kind: 'closed' } = { kind: 'new' };
  /** The network state of the request being answered (recorded in each entry it appends). */
  private network: AuditNetwork | null = null;
  /** The committed head told by the chain during the request being answered. */
  private told: ChainHead | null = null;

  handle(message: unknown): StoreReply {
    const request = storeRequestSchema.safeParse(message);
    if (!request.success) {
      const id = (message as { id?: unknown } | null)?.id;
      return { id: typeof id === 'number' && Number.isSafeInteger(id) ? id : null, ok: false, error: invalidStoreRequest('not a request').toShape() };
    }
    const { id, call, args } = request.data;
    this.network = request.data.network ?? null;
    this.told = null;
    try {
      let value: unknown;
      if (call === 'open') value = this.open(args);
      else if (call === 'close') value = this.close(args);
      else if (call === 'writerLost') value = this.writerLost();
      else if (call === 'restoreJournal') value = this.restoreJournal();
      else value = this.run(call, args);
      return { id, ok: true, value, head: this.told };
    } catch (err) {
      return { id, ok: false, error: storeErrorShape(err) };
    } finally {
      this.network = null;
    }
  }

  private open(raw: unknown): StoreOpened {
    if (this.state.kind === 'open') throw invalidStoreRequest('a second open');
    if (this.state.kind === 'closed') throw storeClosedError();
    const parsed = storeOpenArgs.safeParse(raw);
    if (!parsed.success) {
      // Whatever key bytes came with a refused open are zeroed at once.
      const key = (raw as { key?: unknown } | null)?.key;
      if (key instanceof ArrayBuffer) new Uint8Array(key).fill(0);
      throw invalidStoreRequest('arguments of open');
    }
    const args = parsed.data;
    const key = new Uint8Array(args.key);
    let db: CacheDatabase | null = null;
    try {
      // A Buffer view onto the transferred bytes: no second copy of the key in this thread.
      db = this.openDatabase(args.file, Buffer.from(args.key), { create: args.create, ...(args.cacheKiB !== undefined ? { cacheKiB: args.cacheKiB } : {}) });
      const openDb = db;
      const audit = new AuditChain(openDb, args.signingKey, {
        ...args.context,
        network: () => this.network,
        // Entries naming a patient under an active break-the-glass grant carry the emergency purpose (./operations/glass-grant-rows.ts).
        purposeFor: emergencyPurposeFor(openDb),
      });
      audit.onHead((head) => {
        this.told = head;
      });
      // Vouch for entries a crash left unsigned, but only after checking they chain on (as ../cache-session.ts did on main).
      const lastHead = openDb.prepare('SELECT max(seq) AS seq FROM audit_heads').get() as { seq: number | null };
      const tail = verifyAuditChain(openDb, args.publicKey, args.context.deviceId, lastHead.seq ?? 1);
      if (tail.ok) audit.signHead(true);
      const tx: StoreTx = {
        db: openDb,
        audit,
        actor: args.context.actor,
        actorName: args.context.actorName,
        deviceId: args.context.deviceId,
        publicKey: args.publicKey,
        // A view onto the transferred key bytes (zeroed at close), not a copy.
        cacheKey: Buffer.from(args.key),
      };
      const opened = { chainProblem: tail.ok || !tail.firstBad ? null : describeChainProblem(tail.firstBad), cacheKiB: -Number(openDb.pragma('cache_size', { simple: true })) };
      // No checkpointer thread yet: it starts at the first commit that grows the WAL past CHECKPOINT_AT_BYTES.
      const state: OpenState = { db: openDb, audit, key, tx, checkpointer: null, selfCheckpoints: true, checkpointerKeysZeroed: true, noCheckpointer: false };
      this.state = { kind: 'open', ...state };
      return opened;
    } catch (err) {
      try {
        db?.close();
      } catch {
        // closing after a failed open: nothing to save
      }
      key.fill(0);
      throw err;
    }
  }

  private close(raw: unknown): StoreClosed {
    const parsed = storeCloseArgs.safeParse(raw);
    if (!parsed.success) throw invalidStoreRequest('arguments of close');
    const state = this.state;
    this.state = { kind: 'closed' };
    if (state.kind !== 'open') return { keyZeroed: true };
    try {
      // The checkpointer closes first, so this connection is the file's last and folds the WAL in as it closes.
      this.stopCheckpointer(state, { handBack: false });
      if (parsed.data.signHead) state.audit.signHead(true);
    } catch (err) {
      // A full disk at close: the head stays unsigned; the next open checks the tail and signs it.
      if (!isDiskFullError(err)) throw err;
    } finally {
      try {
        state.db.close();
      } finally {
        state.key.fill(0);
      }
    }
    return { keyZeroed: state.key.every((b) => b === 0) && state.checkpointerKeysZeroed };
  }

  /** Main lost the folder's writer lock to another opener: nothing more commits on this connection. */
  private writerLost(): null {
    if (this.state.kind !== 'open') throw storeClosedError();
    // Nothing of ours writes to the file any more, checkpoints included.
    this.state.noCheckpointer = true;
    this.stopCheckpointer(this.state);
    this.state.db.pragma('query_only = ON');
    return null;
  }

  /**
   * -wal or -shm deleted under the open database: this connection still
   * writes into the deleted files, which nobody else (a backup, the next
   * open) would see. Checkpoint everything into cache.db, then leave and
   * re-enter WAL mode, which makes a new -wal and -shm at the path. Answers
   * false when both files are there or a reader (a backup) holds the
   * database (main tries again at the next change or write).
   */
  private restoreJournal(): boolean {
    if (this.state.kind !== 'open') throw storeClosedError();
    const state = this.state;
    const { db } = state;
    if (existsSync(`${db.name}-wal`) && existsSync(`${db.name}-shm`)) return false;
    // Leaving WAL mode needs this connection to be the file's only one.
    this.stopCheckpointer(state);
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('journal_mode = DELETE');
      db.pragma('journal_mode = WAL');
      // The first read in WAL mode makes the new -wal and -shm.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch {
      // Until a restore succeeds, this connection checkpoints on its own (into files nobody else sees).
      return false;
    }
    // A thread starts again beside the new journal when the WAL grows.
    return true;
  }

  /** Starts the checkpointer thread beside the connection, if this host has one; the connection checkpoints on its own until it is ready. */
  private startCheckpointer(state: OpenState): void {
    if (!this.options.checkpointerModule || state.noCheckpointer || state.checkpointer) return;
    try {
      state.checkpointer = Checkpointer.start(this.options.checkpointerModule, state.db.name, state.key);
    } catch {
      // No thread: the connection keeps its own checkpoints. Its key copy may have gone with the failed start unzeroed.
      state.checkpointer = null;
      state.checkpointerKeysZeroed = false;
    }
  }

  /** Before each call: the connection hands its checkpoints to a ready thread, and takes them back from one that failed. */
  private followCheckpointer(state: OpenState): void {
    const thread = state.checkpointer;
    if (!thread) return;
    if (thread.ready && state.selfCheckpoints) {
      state.db.pragma('wal_autocheckpoint = 0');
      state.selfCheckpoints = false;
    } else if (thread.failed) {
      this.stopCheckpointer(state);
      // It failed once: the connection keeps its own checkpoints for the rest of the session.
      state.noCheckpointer = true;
    } else if (!state.selfCheckpoints && walBytes(state.db.name) > WAL_BACKLOG_BYTES) {
      // Writes outrun the thread (a long import with no pause): wait for it once, so this call may start the WAL over.
      thread.waitCaughtUp(WAL_BACKLOG_WAIT_MS);
    }
  }

  /** Stops the checkpointer thread (it closes its connection and zeroes its key first) and gives the connection its checkpoints back. */
  private stopCheckpointer(state: OpenState, options: { handBack: boolean } = { handBack: true }): void {
    const thread = state.checkpointer;
    if (!thread) return;
    state.checkpointer = null;
    if (!thread.stop().keyZeroed) state.checkpointerKeysZeroed = false;
    // At close there is nothing to hand back: the last connection folds the WAL in as it closes.
    if (options.handBack && !state.selfCheckpoints) {
      state.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      state.selfCheckpoints = true;
    }
  }

  private run(call: string, raw: unknown): unknown {
    if (this.state.kind !== 'open') throw storeClosedError();
    const { name, args } = parseStoreCall(call, raw);
    const state = this.state;
    const { db, audit, tx } = state;
    this.followCheckpointer(state);
    // IMMEDIATE: the write lock from the start, so the chain's next seq is read under it.
    const value = OUTSIDE_TRANSACTION.has(name) ? runOperation(tx, name, args) : db.transaction(() => runOperation(tx, name, args)).immediate();
    audit.signHead();
    // Past CHECKPOINT_AT_BYTES of WAL, what committed goes into cache.db on the checkpointer's thread, not this one
    // (started now if need be; one still starting folds it in with its first checkpoint).
    if (walBytes(db.name) > CHECKPOINT_AT_BYTES) {
      if (state.checkpointer) state.checkpointer.nudge();
      else this.startCheckpointer(state);
    }
    return value;
  }
}
