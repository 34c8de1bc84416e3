/**
 * Uploads the device's audit chain to the backend: the entries after the
 * last receipt, exactly as stored, with a freshly signed head; keeps the
 * backend's signed receipt in the cache. The receipt is checked before it
 * is kept (its signature, under the backend key first seen, and that it
 * names the entry just sent), and `receiptProblem` later tells whether the
 * chain still holds the entry a receipt vouches for. Never upload entries
 * out of order or rewrite one.
 */
import { createPublicKey, sign, verify } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import { auditHeadMessage } from '../../shared/audit-entry';
import { MAX_AUDIT_UPLOAD, auditReceiptSchema, receiptMessage, type AuditReceipt } from '../../shared/audit-upload';
import type { BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { stateGet, stateSet } from './sync-state';

export function latestReceipt(session: CacheSession): AuditReceipt | null {
  const text = stateGet(session, 'audit_receipt');
  return text ? auditReceiptSchema.parse(JSON.parse(text)) : null;
}

/** Sends everything after the last receipt, batch by batch; returns the newest receipt. */
export async function uploadAuditChain(session: CacheSession, backend: BackendClient, token: string): Promise<AuditReceipt | null> {
  let receipt = latestReceipt(session);
  for (;;) {
    const rows = session.db
      .prepare('SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(receipt?.seq ?? 0, MAX_AUDIT_UPLOAD) as Array<{ seq: number; entry: string; prev_hash: string; hash: string }>;
    if (rows.length === 0) return receipt;
    const last = rows[rows.length - 1]!;
    const signature = sign(null, Buffer.from(auditHeadMessage(session.context.deviceId, last.seq, last.hash)), session.keys.signingKey).toString('base64');
    const reply = await backend.uploadAudit(token, {
      entries: rows.map((r) => ({ seq: r.seq, entry: r.entry, prevHash: r.prev_hash, hash: r.hash })),
      head: { seq: last.seq, hash: last.hash, signature },
    });
    const pinned = stateGet(session, 'audit_receipt_key');
    if (pinned && pinned !== reply.receiptKey) throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server signed the audit receipt with an unknown key.');
    const key = createPublicKey({ key: Buffer.from(reply.receiptKey, 'base64url'), format: 'der', type: 'spki' });
    const { signature: sig, ...body } = reply.receipt;
    if (!verify(null, Buffer.from(receiptMessage(body)), key, Buffer.from(sig, 'base64')) || body.seq !== last.seq || body.hash !== last.hash || body.deviceId !== session.context.deviceId) {
      throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server\'s audit receipt does not match what was sent.');
    }
    if (!pinned) stateSet(session, 'audit_receipt_key', reply.receiptKey);
    stateSet(session, 'audit_receipt', JSON.stringify(reply.receipt));
    receipt = reply.receipt;
  }
}

/** Null when the chain still holds the entry the latest receipt vouches for; else which entry is gone or changed. */
export function receiptProblem(session: CacheSession): { seq: number } | null {
  const receipt = latestReceipt(session);
  if (!receipt) return null;
  const hash = session.db.prepare('SELECT hash FROM audit_log WHERE seq = ?').pluck().get(receipt.seq) as string | undefined;
  return hash === receipt.hash ? null : { seq: receipt.seq };
}
