/**
 * The audit upload contract: a device sends the entries after the last one
 * the backend accepted, exactly as its chain stores them, with its signed
 * head; the backend answers with a receipt it signs with its own key. The
 * device keeps the latest receipt, so a later edit or truncation of what was
 * uploaded shows in its own verify. The device also asks, at every sync, for
 * the backend's head (its last accepted entry of this device, as a signed
 * receipt; or, with `?seq=`, the entry at that seq): the device compares it
 * with its own chain to find a rollback of its cache.
 */
import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const MAX_AUDIT_UPLOAD = 20_000;

export const auditUploadSchema = z.strictObject({
  entries: z
    .array(z.strictObject({ seq: z.number().int().positive(), entry: z.string().max(64 * 1024), prevHash: hex64, hash: hex64 }))
    .min(1)
    .max(MAX_AUDIT_UPLOAD),
  head: z.strictObject({ seq: z.number().int().positive(), hash: hex64, signature: z.string().max(256) }),
});
export type AuditUpload = z.infer<typeof auditUploadSchema>;

export const auditReceiptSchema = z.object({
  deviceId: z.string().max(64),
  seq: z.number().int().nonnegative(),
  hash: hex64,
  receivedAt: z.string().max(40),
  signature: z.string().max(256),
});
export type AuditReceipt = z.infer<typeof auditReceiptSchema>;

export function receiptMessage(r: Omit<AuditReceipt, 'signature'>): string {
  return `clinician-desktop audit receipt v1\n${r.deviceId}\n${r.seq}\n${r.hash}\n${r.receivedAt}`;
}

export const AUDIT_UPLOAD_PATH = '/v1/audit/upload';
export const AUDIT_HEAD_PATH = '/v1/audit/head';
/** A privacy officer's list of devices whose cache was found rolled back (ids and seqs only). */
export const AUDIT_ROLLBACKS_PATH = '/v1/audit/rollbacks';
/**
 * The backend's current receipt public key, answered to a passkey (full)
 * session only: the device re-pins to it after IT replaced the key (lost
 * or compromised key file); a sync-only session gets the uniform 404.
 */
export const AUDIT_RECEIPT_KEY_PATH = '/v1/audit/receipt-key';
export const auditReceiptKeyReplySchema = z.object({ receiptKey: z.string().max(256) });

/** The answer of an upload and of a head request: a receipt and the public key that signed it (SPKI DER, base64url). */
export const auditReceiptReplySchema = z.object({ receipt: auditReceiptSchema, receiptKey: z.string().max(256) });
export type AuditReceiptReply = z.infer<typeof auditReceiptReplySchema>;

export const auditHeadQuerySchema = z.strictObject({ seq: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional() });
