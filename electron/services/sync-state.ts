/**
 * Small sync bookkeeping kept in the encrypted cache (the pull cursor, the
 * latest audit receipt), written in the transaction of the data it belongs
 * to. Never store a secret here.
 */
import type { CacheSession } from './cache-session';

export function stateGet(session: CacheSession, key: string): string | null {
  return (session.db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(key) as string | undefined) ?? null;
}

export function stateSet(session: CacheSession, key: string, value: string): void {
  session.db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
}
