/**
 * A device's position in its uploaded audit chain, as the backend holds it:
 * the last accepted entry (or the entry at a given seq), answered as a receipt
 * signed with the backend's key, the same form an upload's answer has. The
 * device compares it with its own chain at every sync to find a rollback of
 * its cache, and walks back with `seq` to the last entry both share. Only the
 * session's own device is ever answered for; seqs and hashes only, no entry.
 */
import { sign, type KeyObject } from 'node:crypto';
import { AUDIT_GENESIS_HASH } from '../../shared/audit-entry';
import { receiptMessage, type AuditReceipt } from '../../shared/audit-upload';
import { ApiError } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';

export async function deviceChainHead(db: Db, deviceId: string, receiptKey: KeyObject, clock: Clock, seq?: number): Promise<AuditReceipt> {
  let query = db.selectFrom('audit_entries').select(['seq', 'hash']).where('device_id', '=', deviceId);
  query = seq === undefined ? query.orderBy('seq', 'desc').limit(1) : query.where('seq', '=', seq);
  const row = seq === 0 ? undefined : await query.executeTakeFirst();
  if (!row && seq !== undefined && seq !== 0) throw new ApiError(404, 'NOT_FOUND', 'No such audit entry of this device.');
  const body = { deviceId, seq: row ? Number(row.seq) : 0, hash: row?.hash ?? AUDIT_GENESIS_HASH, receivedAt: clock().toISOString() };
  return { ...body, signature: sign(null, Buffer.from(receiptMessage(body)), receiptKey).toString('base64') };
}
