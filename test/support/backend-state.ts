/**
 * What the backend stored, read straight from its database (SQLite file or
 * PostgreSQL) next to the running process: answers per device, resources
 * with their versions, and a device's audit chain. Also the device's own
 * chain from its cache, to compare the two. Read-only.
 */
import { openDatabase } from '../../server/database';
import type { CacheSession } from '../../electron/services/cache-session';

export interface BackendSnapshot {
  applied: number;
  resources: Map<string, { version: number; resource: Record<string, unknown> }>;
  audit: Array<{ seq: number; hash: string; entry: string }>;
}

export async function backendSnapshot(where: { dataDir: string; databaseUrl: string | undefined }, deviceId: string, resourceType: string): Promise<BackendSnapshot> {
  const { db } = openDatabase({ dataDir: where.dataDir, databaseUrl: where.databaseUrl });
  try {
    const applied = await db.selectFrom('applied_changes').select((eb) => eb.fn.countAll().as('n')).where('device_id', '=', deviceId).executeTakeFirstOrThrow();
    const rows = await db.selectFrom('resources').select(['id', 'version_id', 'json']).where('resource_type', '=', resourceType).execute();
    const audit = await db.selectFrom('audit_entries').select(['seq', 'hash', 'entry']).where('device_id', '=', deviceId).orderBy('seq').execute();
    return {
      applied: Number(applied.n),
      resources: new Map(rows.map((r) => [r.id, { version: Number(r.version_id), resource: JSON.parse(r.json) as Record<string, unknown> }])),
      audit: audit.map((a) => ({ seq: Number(a.seq), hash: a.hash, entry: a.entry })),
    };
  } finally {
    await db.destroy();
  }
}

/** The device's whole chain as its cache holds it, read through the session's store (read-only calls, nothing audited). */
export async function deviceAuditChain(session: CacheSession): Promise<BackendSnapshot['audit']> {
  const chain: BackendSnapshot['audit'] = [];
  for (;;) {
    const page = await session.store.call('auditEntriesAfter', { afterSeq: chain.at(-1)?.seq ?? 0, limit: 20_000 });
    chain.push(...page.map(({ seq, hash, entry }) => ({ seq, hash, entry })));
    if (page.length < 20_000) return chain;
  }
}

/** A resource without the server's bookkeeping (meta), for comparing content. */
export function content(resource: Record<string, unknown>): string {
  const { meta: _meta, ...rest } = resource;
  return JSON.stringify(rest);
}
