/**
 * The audit chain's own calls: entries for events that read nothing from
 * the cache (a consultation step, a break-the-glass grant, a refused
 * import), the committed head and signing it, the reads an audit upload
 * makes (batches, the search for the last entry the backend shares), the
 * checks against receipts and kept heads, verification, and the two
 * rollback entries. Everything runs inside the call's transaction like
 * every other entry. Never append an entry for an access that happens
 * outside the store: such an access must become a store call of its own,
 * with its entry inside it.
 */
import { AUDIT_GENESIS_HASH, ROLLBACK_SUBTYPE, lostRangeEntities } from '../../../../shared/audit-entry';
import { chainHoldsEntry as chainHolds, verifyAuditChain } from '../../audit-chain';
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

export function auditEntriesAfter(tx: StoreTx, { afterSeq, limit }: StoreArgs<'auditEntriesAfter'>): StoreResults['auditEntriesAfter'] {
  return tx.db
    .prepare('SELECT seq, entry, prev_hash AS prevHash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?')
    .all(afterSeq, limit) as StoreResults['auditEntriesAfter'];
}

export function auditCountUpTo(tx: StoreTx, { upTo }: StoreArgs<'auditCountUpTo'>): number {
  return tx.db.prepare('SELECT count(*) FROM audit_log WHERE seq <= ?').pluck().get(upTo) as number;
}

export function auditEntryAt(tx: StoreTx, { upTo, index }: StoreArgs<'auditEntryAt'>): StoreResults['auditEntryAt'] {
  return (tx.db.prepare('SELECT seq, hash FROM audit_log WHERE seq <= ? ORDER BY seq LIMIT 1 OFFSET ?').get(upTo, index) as StoreResults['auditEntryAt'] | undefined) ?? null;
}

export function chainHoldsEntry(tx: StoreTx, { seq, hash }: StoreArgs<'chainHoldsEntry'>): boolean {
  return chainHolds(tx.db, seq, hash);
}

export function continueAfterRollback(tx: StoreTx, { kept, backend }: StoreArgs<'continueAfterRollback'>): StoreResults['continueAfterRollback'] {
  return tx.audit.continueAfterRollback(kept, backend);
}

export function recordLostRange(tx: StoreTx, { lost }: StoreArgs<'recordLostRange'>): StoreResults['recordLostRange'] {
  const kept = auditHead(tx) ?? { seq: 0, hash: AUDIT_GENESIS_HASH };
  const entities = lostRangeEntities({ keptSeq: kept.seq, keptHash: kept.hash, lostSeq: lost.seq, lostHash: lost.hash });
  return { seq: tx.audit.append({ action: 'E', subtype: ROLLBACK_SUBTYPE, patientId: null, entities, query: null, outcome: '0' }).seq };
}

export function verifyChain(tx: StoreTx, { fromSeq }: StoreArgs<'verifyChain'>): StoreResults['verifyChain'] {
  return verifyAuditChain(tx.db, tx.publicKey, tx.deviceId, fromSeq);
}
