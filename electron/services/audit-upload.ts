/**
 * Uploads the device's audit chain to the backend: first asks for the
 * backend's head (its last accepted entry of this device, signed) and checks
 * that the chain still holds it; if not, the cache was rolled back
 * (./rollback-guard): the entries the backend never saw are re-chained
 * behind a signed rollback entry that follows the backend's head, and the
 * upload goes on from there. Then the entries after the head, exactly as
 * stored, with a freshly signed head; the backend's signed receipt is kept in
 * the cache and in the keychain. Every receipt is checked before it is kept
 * (its signature, under the backend key first seen, and that it names the
 * entry just sent), and `receiptProblem` later tells whether the chain still
 * holds the entry a receipt vouches for. Never upload entries out of order,
 * never rewrite an entry the backend holds, never drop one it does not.
 * A head answer signed by a key other than the pinned one (IT replaced the
 * backend's receipt key) is taken only if the backend names that same key
 * to this session as a passkey (full) session; a sync-only session cannot
 * re-pin, and its uploads stay refused until the clinician signs in online.
 */
import { sign } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import { AUDIT_GENESIS_HASH, auditHeadMessage } from '../../shared/audit-entry';
import { MAX_AUDIT_UPLOAD, auditReceiptSchema, type AuditReceipt } from '../../shared/audit-upload';
import type { BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { checkedReceipt, clearUnconfirmedNotice, receiptKeyChanged, repinReceiptKey, keepReceiptInKeychain, missingReceiptedEntry, noteReceipt, noteRollback } from './rollback-guard';
import { setSyncState, syncState } from './sync-state';

export async function latestReceipt(session: CacheSession): Promise<AuditReceipt | null> {
  const text = await syncState(session, 'audit_receipt');
  return text ? auditReceiptSchema.parse(JSON.parse(text)) : null;
}

/**
 * The device's last entry the backend also holds, at or before `upTo`: a
 * binary search over the device's entries, asking the backend for its entry
 * at each probed seq (hash chains agree up to a point and never after).
 */
async function lastSharedEntry(session: CacheSession, backend: BackendClient, token: string, upTo: number): Promise<{ seq: number; hash: string }> {
  const rows = await session.store.call('auditCountUpTo', { upTo });
  let shared = { seq: 0, hash: AUDIT_GENESIS_HASH };
  let lo = 0;
  let hi = rows - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const row = await session.store.call('auditEntryAt', { upTo, index: mid });
    if (!row) break;
    const theirs = await checkedReceipt(session, await backend.auditHead(token, row.seq));
    if (theirs.seq === row.seq && theirs.hash === row.hash) {
      shared = row;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return shared;
}

/**
 * The backend answered with a receipt key other than the pinned one: asks
 * for its current key as a passkey session (the route answers full sessions
 * only) and re-pins when it is the key the answer carried. Otherwise the
 * pinned key stays and the answer is refused by checkedReceipt.
 */
async function repinIfSignedIn(session: CacheSession, backend: BackendClient, token: string, offered: string): Promise<void> {
  let current: string;
  try {
    current = (await backend.auditReceiptKey(token)).receiptKey;
  } catch (err) {
    if (err instanceof AppError && (err.code === 'BACKEND_UNREACHABLE' || err.code === 'BACKEND_FAILED')) throw err;
    return; // a sync-only session (404): no way to re-pin now
  }
  if (current === offered) await repinReceiptKey(session, current);
}

/** Sends everything after the backend's head, batch by batch (after re-chaining, if the cache was rolled back); returns the newest receipt. */
export async function uploadAuditChain(session: CacheSession, backend: BackendClient, token: string): Promise<AuditReceipt | null> {
  const headReply = await backend.auditHead(token);
  if (await receiptKeyChanged(session, headReply)) await repinIfSignedIn(session, backend, token, headReply.receiptKey);
  let receipt = await checkedReceipt(session, headReply);
  const cached = await latestReceipt(session);
  // Entries from the cache's own receipt on are sent again when it is behind (an answer was lost): the backend checks they are what it holds.
  const holds = (point: { seq: number; hash: string }) => session.store.call('chainHoldsEntry', { seq: point.seq, hash: point.hash });
  let from = cached && cached.seq <= receipt.seq && (await holds(cached)) ? cached.seq : 0;
  if (!(await holds(receipt))) {
    const kept = await lastSharedEntry(session, backend, token, receipt.seq);
    const { seq } = await session.store.call('continueAfterRollback', { kept, backend: { seq: receipt.seq, hash: receipt.hash } });
    await noteRollback(session, seq);
    from = receipt.seq;
    process.emitWarning('The patient cache was rolled back; its audit log continues from the hospital server\'s.', 'CacheRolledBackWarning');
  } else {
    await clearUnconfirmedNotice(session);
  }
  if (!cached || cached.seq < receipt.seq || from === receipt.seq) await setSyncState(session, 'audit_receipt', JSON.stringify(receipt));
  await keepReceiptInKeychain(session, headReply);
  for (;;) {
    const rows = await session.store.call('auditEntriesAfter', { afterSeq: from, limit: MAX_AUDIT_UPLOAD });
    if (rows.length === 0) return receipt.seq === 0 ? null : receipt;
    const last = rows[rows.length - 1]!;
    const signature = sign(null, Buffer.from(auditHeadMessage(session.context.deviceId, last.seq, last.hash)), session.keys.signingKey).toString('base64');
    const reply = await backend.uploadAudit(token, {
      entries: rows.map((r) => ({ seq: r.seq, entry: r.entry, prevHash: r.prevHash, hash: r.hash })),
      head: { seq: last.seq, hash: last.hash, signature },
    });
    const body = await checkedReceipt(session, reply);
    if (body.seq !== last.seq || body.hash !== last.hash) {
      throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server\'s audit receipt does not match what was sent.');
    }
    await setSyncState(session, 'audit_receipt', JSON.stringify(reply.receipt));
    await noteReceipt(session, body.seq);
    await keepReceiptInKeychain(session, reply);
    receipt = reply.receipt;
    from = body.seq;
  }
}

/**
 * Null when the chain still holds the entry the latest receipt vouches for
 * (the cache's own, and the keychain's as checked at open, until the sync
 * continues the chain from the backend); else which entry is gone or changed.
 */
export async function receiptProblem(session: CacheSession): Promise<{ seq: number } | null> {
  const receipt = await latestReceipt(session);
  if (receipt && !(await session.store.call('chainHoldsEntry', { seq: receipt.seq, hash: receipt.hash }))) return { seq: receipt.seq };
  const missing = await missingReceiptedEntry(session);
  return missing === null ? null : { seq: missing };
}
