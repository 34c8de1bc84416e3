/**
 * The audit chain's own calls: entries for events that read nothing from
 * the cache (a consultation step, a break-the-glass grant, a refused
 * import), the committed head, and signing it. Entries are appended inside
 * the call's transaction like every other entry. Never append an entry for
 * an access that happens outside the store: such an access must become a
 * store call of its own, with its entry inside it.
 */
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

export function appendAudit(tx: StoreTx, { records }: StoreArgs<'appendAudit'>): StoreResults['appendAudit'] {
  return { seqs: records.map((record) => tx.audit.append(record).seq) };
}

export function auditHead(tx: StoreTx): StoreResults['auditHead'] {
  return (tx.db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as StoreResults['auditHead'] | undefined) ?? null;
}

export function signHead(tx: StoreTx, { force }: StoreArgs<'signHead'>): StoreResults['signHead'] {
  tx.audit.signHead(force);
  return auditHead(tx);
}
