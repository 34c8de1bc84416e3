/**
 * Telling a lost database connection from a refused statement, and running
 * a transaction again when the connection died under it.
 *
 * The rule for retrying (why it cannot write twice):
 * - A connection that could not be made (refused, the server starting up or
 *   shutting down) sent nothing: trying again is always safe.
 * - A connection that died before COMMIT was sent (reset, 57P01
 *   admin_shutdown, 57P02 crash_shutdown, class 08) left a transaction the
 *   server rolls back: running the whole transaction again is safe, because
 *   the transaction's work is a function of the database and the request
 *   alone. The same holds for a serialization failure or a deadlock (40001,
 *   40P01), which PostgreSQL has already rolled back.
 * - A connection that died while COMMIT was on its way may or may not have
 *   committed. Only an idempotent operation is run again then: a push is
 *   (each change is looked up by its idempotency key first, so a change
 *   that did commit gets its stored answer and no second write); anything
 *   else fails with SERVICE_UNAVAILABLE and the client decides.
 * - SQLite's SQLITE_BUSY / SQLITE_LOCKED (another process holds the write
 *   lock past busy_timeout) rolled the statement back: the transaction is
 *   run again whole, with backoff, within the budget.
 * - Nothing else is retried. Of what is left, only an error that says THIS
 *   CHANGE's data cannot be stored (isRefusalOfData) is an answer about the
 *   data; anything else (read-only, disk full, timeouts, ...) is the
 *   server's trouble, answered SERVICE_UNAVAILABLE and never stored.
 * Never put a database error's message in a log or an answer (it can quote
 * stored values): codes only.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError } from './api-error';
import type { Db } from './database';
import { operationsEvent } from './monitoring/operations-log';

const CONNECTION_ERRNO = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout. */
const CONNECTION_SQLSTATE = new Set(['57P01', '57P02', '57P03', '57P05']);
/** What node-postgres, pg-pool and Kysely say (without a code) when the connection is gone. */
const CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|connection has been discarded|Connection ended|Client was closed/i;
/** Rolled back by PostgreSQL itself: a retry of the whole transaction may succeed. */
const TRANSIENT_SQLSTATE = new Set(['40001', '40P01']);
/** SQLite: another connection holds the lock (better-sqlite3 reports extended codes, e.g. SQLITE_BUSY_SNAPSHOT). */
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED)(_|$)/;

/**
 * The one list of database errors that say a change's OWN data cannot be
 * stored, so the change is answered `refused` (for good) and the rest of
 * its push lands. Everything else a database says (busy, locked,
 * read-only 25006, resources 53xxx, statement or lock timeouts 57014 and
 * 55P03, I/O, connection) is about the server, not the change: the whole
 * push fails with 503 and the device sends it again.
 * - PostgreSQL class 22 (data exception: value too long, out of range,
 *   invalid text), class 23 (integrity constraint: not null, foreign key,
 *   unique, check, exclusion), 54000 (program limit exceeded: a row or
 *   index entry too large), P0001 (a trigger's RAISE EXCEPTION about the
 *   row it was given).
 * - SQLite: SQLITE_CONSTRAINT and its extended codes (including a
 *   trigger's RAISE(ABORT)), SQLITE_TOOBIG (a value too large),
 *   SQLITE_MISMATCH (a value of the wrong type for its column).
 */
const REFUSAL_SQLSTATE_CLASSES = new Set(['22', '23']);
const REFUSAL_SQLSTATE = new Set(['54000', 'P0001']);
const REFUSAL_SQLITE = /^SQLITE_(CONSTRAINT(_\w+)?|TOOBIG|MISMATCH)$/;

/** The database refused this change's data itself (see the list above): an answer, not an outage. */
export function isRefusalOfData(err: unknown): boolean {
  const code = errorCodeOf(err);
  if (!code) return false;
  if (code.startsWith('SQLITE_')) return REFUSAL_SQLITE.test(code);
  return /^[0-9A-Z]{5}$/.test(code) && (REFUSAL_SQLSTATE_CLASSES.has(code.slice(0, 2)) || REFUSAL_SQLSTATE.has(code));
}

export function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The connection to the database died or could not be made (not: the database refused a statement). */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = errorCodeOf(err);
  if (code && (CONNECTION_ERRNO.has(code) || CONNECTION_SQLSTATE.has(code) || code.startsWith('08'))) return true;
  return !code && CONNECTION_MESSAGES.test(err.message);
}

/** Worth running the whole transaction again, before COMMIT (see the rule above). */
export function isRetryable(err: unknown): boolean {
  const code = errorCodeOf(err) ?? '';
  return isConnectionError(err) || TRANSIENT_SQLSTATE.has(code) || SQLITE_TRANSIENT.test(code);
}

/** The answer for a request the database could not serve now: 503, nothing about why. */
export const serviceUnavailable = () => new ApiError(503, 'SERVICE_UNAVAILABLE', 'The server is temporarily unavailable. Try again shortly.');

export interface RetryOptions {
  /** Running it twice changes nothing more than running it once (then a failure during COMMIT is retried too). */
  idempotent: boolean;
  /** Give up after this long (default 5 s: the 503 reaches a device well within its 10 s request timeout). */
  budgetMs?: number;
}

/**
 * `work` in one transaction; on a lost connection (or a serialization
 * failure) run again on a fresh connection, with backoff, within the
 * budget, following the rule above. Fails with SERVICE_UNAVAILABLE when the
 * database stays unreachable.
 */
export async function transactionWithRetry<T>(db: Db, work: (trx: Db) => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  const budget = options.budgetMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    let committing = false;
    try {
      return await db.transaction().execute(async (trx) => {
        const result = await work(trx);
        committing = true;
        return result;
      });
    } catch (err) {
      if (!isRetryable(err)) throw err;
      const code = errorCodeOf(err);
      const wait = Math.min(1000, 50 * 2 ** (attempt - 1));
      if ((committing && !options.idempotent) || Date.now() - started + wait > budget) {
        operationsEvent('database-unavailable', { ...(code ? { code } : {}), attempt });
        throw serviceUnavailable();
      }
      operationsEvent('database-retry', { ...(code ? { code } : {}), attempt });
      await delay(wait);
    }
  }
}
