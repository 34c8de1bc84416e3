/**
 * Things made once per cache connection (prepared statements, mostly) and
 * kept with it: `perConnection(make)` answers, for a connection, what `make`
 * made for it at its first use. Kept in a WeakMap keyed by the connection
 * object, so they go with it when it is closed and dropped at lock; a
 * connection opened again gets its own. Never hand one connection's
 * statements to another, and never share a statement whose mode a caller
 * changes (pluck, raw, expand) between callers that expect different modes:
 * each maker owns its statements.
 */
import type { CacheDatabase } from '../cache-database';

export function perConnection<T>(make: (db: CacheDatabase) => T): (db: CacheDatabase) => T {
  const made = new WeakMap<CacheDatabase, T>();
  return (db) => {
    let thing = made.get(db);
    if (thing === undefined) made.set(db, (thing = make(db)));
    return thing;
  };
}
