/**
 * Migration only (issue 14): the store's operations run on the open
 * session's main-thread connection, behind the same CacheStore interface the
 * worker answers, while services not yet moved still use that connection.
 * One connection means one writer of the audit chain, and a moved call
 * nested in an unmoved service's transaction still commits with it (a
 * savepoint). Calls are checked exactly as the worker checks them and run
 * inside `session.audited` (one transaction, the head signed after it);
 * after the session closes every call is refused with STORE_CLOSED.
 * `runNow` answers synchronously for callers not yet async: each use is a
 * place to convert before the session switches to the worker
 * (./README.md, Migration). Never add SQL here.
 */
import { AppError } from '../../../shared/app-error';
import type { CacheSession } from '../cache-session';
import type { CacheStore, StoreArgs, StoreCallName, StoreResults } from './store-api';
import { storeClosedError, storeErrorShape } from './store-errors';
import { parseStoreCall, runOperation } from './store-host';
import { OUTSIDE_TRANSACTION } from './store-operations';
import type { StoreTx } from './store-tx';

export interface SessionStore extends CacheStore {
  /** The same call, answered synchronously (migration only: see the header). */
  runNow<N extends StoreCallName>(name: N, args: StoreArgs<N>): StoreResults[N];
  /** Called by the session's close: from then on every call is refused. */
  markClosed(): void;
}

function typed(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const shape = storeErrorShape(err);
  return new AppError(shape.code, shape.message, shape.fields);
}

export function sessionStore(session: Pick<CacheSession, 'db' | 'audit' | 'context' | 'keys' | 'audited'>): SessionStore {
  let closed = false;
  const tx: StoreTx = {
    db: session.db,
    audit: session.audit,
    actor: session.context.actor,
    actorName: session.context.actorName,
    deviceId: session.context.deviceId,
    publicKey: session.keys.publicKey,
    cacheKey: session.keys.cacheKey,
  };
  const runNow = <N extends StoreCallName>(name: N, args: StoreArgs<N>): StoreResults[N] => {
    if (closed) throw storeClosedError();
    const call = parseStoreCall(name, args);
    try {
      if (OUTSIDE_TRANSACTION.has(call.name)) return runOperation(tx, call.name as N, call.args as StoreArgs<N>);
      return session.audited(() => runOperation(tx, call.name as N, call.args as StoreArgs<N>));
    } catch (err) {
      throw typed(err);
    }
  };
  return {
    runNow,
    call(name, args) {
      return new Promise((resolve) => resolve(runNow(name, args)));
    },
    async close() {
      closed = true;
    },
    markClosed() {
      closed = true;
    },
    get closed() {
      return closed;
    },
  };
}
