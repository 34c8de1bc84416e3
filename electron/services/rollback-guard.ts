/**
 * Finds a rollback of the cache (a data folder restored from an older copy,
 * a WAL file lost in a crash) and says so. The backend's signed receipt for
 * the device's last uploaded audit entry is kept in the OS keychain as well
 * as in the cache: the keychain is not in the folder a backup tool restores,
 * so a rollback cannot silently undo it. At open, the cache's chain must
 * still hold the entry that receipt names; if not, the open still succeeds
 * (nothing is wiped, the clinician keeps working) and a CACHE_ROLLED_BACK
 * notice is recorded; the sync (./audit-upload) then re-chains and reports it
 * to the backend. A keychain receipt that is not the backend's signature for
 * this device is ignored, never acted on. The receipt holds ids, seqs and
 * hashes only: never PHI, never a key of the device.
 *
 * The backend's receipt only covers what it acknowledged: offline work lost
 * to a restored copy, or reads a clinician erases by putting back a copy of
 * the folder, never reached it. So the device also keeps its OWN latest
 * chain head (seq and hash, signed with the device key) in the keychain,
 * written shortly after each audited transaction and at close (coalesced:
 * at most one keychain write in flight, the latest head wins). At open, a
 * chain that does not hold that head is a rollback even if the backend never
 * saw the lost entries: CACHE_ROLLED_BACK, and a signed rollback entry that
 * names the lost range (from the chain's last entry to the keychain's head)
 * continues the chain at once; the next sync carries it to the backend,
 * which flags it. A head in the keychain not signed by this device's key is
 * ignored. Limit: a SIGKILL or power cut can lose the last seconds before
 * the keychain write landed; those entries go unnoticed.
 *
 * The backend's receipt key is pinned at first sight. A sync answer signed
 * by another key is refused; the device re-pins only to the key the backend
 * names on an answer to a passkey (full) session (./audit-upload), never on
 * a sync-only or unauthenticated one.
 */
import { createPublicKey, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';
import { auditHeadMessage } from '../../shared/audit-entry';
import { auditReceiptSchema, receiptMessage, type AuditReceipt, type AuditReceiptReply } from '../../shared/audit-upload';
import type { ChainHead } from './audit-chain';
import type { CacheSession } from './cache-session';
import type { SecretStore } from './secret-store';
import { setSyncState, syncState } from './sync-state';

export const ROLLBACK_PENDING_MESSAGE =
  "This computer's patient cache was restored from an older copy or lost recent changes. Everything still on this computer is kept and will be sent; your privacy officer will be told as soon as the hospital server is reached.";
export const ROLLBACK_REPORTED_MESSAGE =
  "This computer's patient cache was restored from an older copy or lost recent changes. Everything still on this computer is kept and will be sent; your privacy officer has been told.";

/** The keychain account of a profile's latest audit receipt (beside its keys). */
export function auditReceiptAccount(profileId: string): string {
  return `${profileId}/audit-receipt`;
}

/** The keychain account of a profile's own latest chain head, signed by its device key. */
export function deviceHeadAccount(profileId: string): string {
  return `${profileId}/audit-device-head`;
}

const keptHeadSchema = z.strictObject({ format: z.literal(1), seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/), signature: z.string().max(256) });

/**
 * Writes a profile's device head to the keychain: at most one write in
 * flight; a head given meanwhile replaces the one waiting (latest wins).
 * Never throws; a failed write is tried again with the next head.
 */
class DeviceHeadKeeper {
  private waiting: { id: string; text: string } | null = null;
  private written: string | null = null;
  private running: Promise<void> | null = null;
  constructor(
    private readonly secrets: SecretStore,
    private readonly account: string,
  ) {}

  offer(head: ChainHead, sign: () => string): void {
    const id = `${head.seq}:${head.hash}`;
    if (id === this.written || id === this.waiting?.id) return;
    this.waiting = { id, text: JSON.stringify({ format: 1, seq: head.seq, hash: head.hash, signature: sign() }) };
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.waiting) {
      const next = this.waiting;
      this.waiting = null;
      try {
        await this.secrets.set(this.account, next.text);
        this.written = next.id;
      } catch {
        // The next head is written again; the cache still holds everything.
      }
    }
    this.running = null;
  }

  /** Resolves once nothing is waiting or in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}

const keepers = new Map<string, DeviceHeadKeeper>();

/** Waits for every device head still being written (call before quitting). */
export async function flushDeviceHeads(): Promise<void> {
  await Promise.all([...keepers.values()].map((k) => k.idle()));
}

/** For wipe: waits for a head still being written, then deletes the profile's device head (no orphaned keychain entry). */
export async function forgetDeviceHead(secrets: SecretStore, profileId: string): Promise<void> {
  const account = deviceHeadAccount(profileId);
  await keepers.get(account)?.idle();
  keepers.delete(account);
  await secrets.delete(account);
}

/** The keychain's device head for this profile when it is this device's signature; null when none, unreadable or not genuine. */
async function keychainDeviceHead(session: CacheSession, secrets: SecretStore): Promise<ChainHead | null> {
  const text = await secrets.get(deviceHeadAccount(session.profile.profileId));
  if (text === null) return null;
  const parsed = keptHeadSchema.safeParse((() => { try { return JSON.parse(text); } catch { return null; } })());
  const genuine =
    parsed.success &&
    verify(null, Buffer.from(auditHeadMessage(session.context.deviceId, parsed.data.seq, parsed.data.hash)), session.keys.publicKey, Buffer.from(parsed.data.signature, 'base64'));
  if (!parsed.success || !genuine) {
    process.emitWarning("The chain head in the keychain is not this computer's; it was ignored.", 'AuditReceiptWarning');
    return null;
  }
  return { seq: parsed.data.seq, hash: parsed.data.hash };
}

/** Starts keeping this session's committed heads in the keychain (asynchronously, coalesced). */
function keepDeviceHeads(session: CacheSession, secrets: SecretStore): void {
  const account = deviceHeadAccount(session.profile.profileId);
  let keeper = keepers.get(account);
  if (!keeper) {
    keeper = new DeviceHeadKeeper(secrets, account);
    keepers.set(account, keeper);
  }
  const { signingKey } = session.keys;
  const k = keeper;
  session.onHead((head) =>
    k.offer(head, () => sign(null, Buffer.from(auditHeadMessage(session.context.deviceId, head.seq, head.hash)), signingKey).toString('base64')),
  );
}

const keptReceiptSchema = z.strictObject({ format: z.literal(1), receipt: auditReceiptSchema, receiptKey: z.string().max(256) });

/** 'detected': found, not yet reported to the backend; 'reported': the backend holds the rollback entry. */
const noticeSchema = z.object({
  state: z.enum(['detected', 'reported']),
  detectedAt: z.string(),
  /** The rollback entry written at the sync; null while only the keychain's receipt says so. */
  rollbackSeq: z.number().int().nullable(),
  /** The seq of the keychain receipt's entry the chain no longer holds (until the sync continues the chain). */
  missingSeq: z.number().int().nullable().default(null),
});
type Notice = z.infer<typeof noticeSchema>;
const NOTICE_KEY = 'rollback_notice';
/** The backend's receipt-signing key as first seen (pinned by ./audit-upload). */
export const RECEIPT_KEY_STATE = 'audit_receipt_key';

const stores = new WeakMap<CacheSession, SecretStore>();
/** The receipt seq last written to the keychain by this process, per session (so each drain does not rewrite it). */
const written = new WeakMap<CacheSession, string>();

/** Whether `receipt` is the backend's signature, under `receiptKey`, for this device. */
export function receiptIsGenuine(receipt: AuditReceipt, receiptKey: string, deviceId: string): boolean {
  if (receipt.deviceId !== deviceId) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(receiptKey, 'base64url'), format: 'der', type: 'spki' });
    const { signature, ...body } = receipt;
    return verify(null, Buffer.from(receiptMessage(body)), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Checks a backend answer (head or upload receipt): signed by the key this
 * cache pinned (or, with none pinned yet, by the key it names), for this
 * device. Throws BACKEND_INVALID_RESPONSE otherwise.
 */
export async function checkedReceipt(session: CacheSession, reply: AuditReceiptReply): Promise<AuditReceipt> {
  const pinned = await syncState(session, RECEIPT_KEY_STATE);
  if (pinned && pinned !== reply.receiptKey) throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server signed the audit receipt with an unknown key.');
  if (!receiptIsGenuine(reply.receipt, reply.receiptKey, session.context.deviceId)) {
    throw new AppError('BACKEND_INVALID_RESPONSE', "The hospital server's audit receipt does not match what was sent.");
  }
  if (!pinned) await setSyncState(session, RECEIPT_KEY_STATE, reply.receiptKey);
  return reply.receipt;
}

/** The keychain's receipt for this profile, when it is genuine; null when there is none or it is not to be trusted. */
async function keychainReceipt(session: CacheSession, secrets: SecretStore): Promise<AuditReceipt | null> {
  const text = await secrets.get(auditReceiptAccount(session.profile.profileId));
  if (text === null) return null;
  let parsed: z.infer<typeof keptReceiptSchema>;
  try {
    parsed = keptReceiptSchema.parse(JSON.parse(text));
  } catch {
    process.emitWarning('The audit receipt in the keychain is damaged; it was ignored.', 'AuditReceiptWarning');
    return null;
  }
  const pinned = await syncState(session, RECEIPT_KEY_STATE);
  if ((pinned && pinned !== parsed.receiptKey) || !receiptIsGenuine(parsed.receipt, parsed.receiptKey, session.context.deviceId)) {
    process.emitWarning('The audit receipt in the keychain is not the hospital server\'s for this computer; it was ignored.', 'AuditReceiptWarning');
    return null;
  }
  return parsed.receipt;
}

async function readNotice(session: CacheSession): Promise<Notice | null> {
  const text = await syncState(session, NOTICE_KEY);
  if (!text) return null;
  const parsed = noticeSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}

async function writeNotice(session: CacheSession, notice: Notice | null): Promise<void> {
  await setSyncState(session, NOTICE_KEY, notice ? JSON.stringify(notice) : null);
}

/** Records that this cache was found rolled back (kept until the backend holds the rollback entry). */
export async function noteRollback(session: CacheSession, rollbackSeq: number | null, missingSeq: number | null = null, now: Date = new Date()): Promise<void> {
  const known = await readNotice(session);
  await writeNotice(session, { state: 'detected', detectedAt: known?.state === 'detected' ? known.detectedAt : now.toISOString(), rollbackSeq, missingSeq });
}

/** The entry a backend receipt (from the keychain) vouches for and the chain lacks, while the sync has not yet continued the chain. */
export async function missingReceiptedEntry(session: CacheSession): Promise<number | null> {
  const notice = await readNotice(session);
  return notice?.state === 'detected' && notice.rollbackSeq === null ? notice.missingSeq : null;
}

/** The backend acknowledged entries up to `seq`: a rollback entry at or before it has been reported. */
export async function noteReceipt(session: CacheSession, seq: number): Promise<void> {
  const notice = await readNotice(session);
  if (notice?.state === 'detected' && notice.rollbackSeq !== null && notice.rollbackSeq <= seq) await writeNotice(session, { ...notice, state: 'reported' });
}

/** A rollback suspected at open that the backend's own head does not confirm (e.g. a stale keychain): forgotten. */
export async function clearUnconfirmedNotice(session: CacheSession): Promise<void> {
  const notice = await readNotice(session);
  if (notice?.state === 'detected' && notice.rollbackSeq === null) await writeNotice(session, null);
}

/** What the clinician is to be told about a rollback of this cache, if anything. */
export async function rollbackNotice(session: CacheSession): Promise<AppError | null> {
  const notice = await readNotice(session);
  if (!notice) return null;
  return new AppError('CACHE_ROLLED_BACK', notice.state === 'reported' ? ROLLBACK_REPORTED_MESSAGE : ROLLBACK_PENDING_MESSAGE);
}

/**
 * Run at every open, once the chain is checked: remembers the keychain for
 * this session's syncs, forgets a notice already reported in an earlier
 * session, and compares the chain with the keychain's receipt. A keychain
 * that cannot be read is not a rollback: the sync's check still runs.
 */
export async function checkRollbackAtOpen(session: CacheSession, secrets: SecretStore): Promise<void> {
  stores.set(session, secrets);
  if ((await readNotice(session))?.state === 'reported') await writeNotice(session, null);
  // A head this process is still writing (the session just closed) lands before it is compared.
  await keepers.get(deviceHeadAccount(session.profile.profileId))?.idle();
  let receipt: AuditReceipt | null;
  let ownHead: ChainHead | null;
  try {
    receipt = await keychainReceipt(session, secrets);
    ownHead = await keychainDeviceHead(session, secrets);
  } catch {
    keepDeviceHeads(session, secrets);
    return;
  }
  const holds = (point: ChainHead) => session.store.call('chainHoldsEntry', { seq: point.seq, hash: point.hash });
  if (receipt && !(await holds(receipt))) {
    // The backend saw entries the chain lacks: the sync re-chains behind the backend's head (./audit-upload).
    await noteRollback(session, null, receipt.seq);
    process.emitWarning(ROLLBACK_PENDING_MESSAGE, 'CacheRolledBackWarning');
  } else if (ownHead && !(await holds(ownHead))) {
    // Entries lost that the backend may never have seen: said now, recorded now (a rollback entry naming the lost range), reported at the next sync.
    const { seq } = await session.store.call('recordLostRange', { lost: ownHead });
    await noteRollback(session, seq);
    process.emitWarning(ROLLBACK_PENDING_MESSAGE, 'CacheRolledBackWarning');
  }
  keepDeviceHeads(session, secrets);
  // The committed head to the keeper just started (told after every store call), signed when due.
  await session.store.call('signHead', { force: false });
}

/**
 * Re-pins the backend's receipt key. Only for a key the backend named in an
 * answer to a passkey (full) session (./audit-upload): never from a
 * sync-only or unauthenticated answer.
 */
export async function repinReceiptKey(session: CacheSession, receiptKey: string): Promise<void> {
  await setSyncState(session, RECEIPT_KEY_STATE, receiptKey);
  process.emitWarning("The hospital server's audit receipt key changed; the new key was taken from a signed-in answer.", 'AuditReceiptWarning');
}

/** Whether a backend answer is signed by a key other than the pinned one. */
export async function receiptKeyChanged(session: CacheSession, reply: AuditReceiptReply): Promise<boolean> {
  const pinned = await syncState(session, RECEIPT_KEY_STATE);
  return pinned !== null && pinned !== undefined && pinned !== reply.receiptKey;
}

/**
 * Keeps the backend's latest receipt in the keychain, outside the data
 * folder. Best effort: a keychain that fails now is tried again at the next
 * sync (the cache keeps the receipt meanwhile); never throws.
 */
export async function keepReceiptInKeychain(session: CacheSession, reply: AuditReceiptReply): Promise<void> {
  const secrets = stores.get(session);
  if (!secrets) return;
  const id = `${reply.receipt.seq}:${reply.receipt.hash}`;
  if (written.get(session) === id) return;
  try {
    await secrets.set(auditReceiptAccount(session.profile.profileId), JSON.stringify({ format: 1, receipt: reply.receipt, receiptKey: reply.receiptKey }));
    written.set(session, id);
  } catch {
    // Kept in the cache; the next sync writes it again.
  }
}

/** For wipe: the keychain entry goes with the profile's keys. */
export async function deleteKeptReceipt(secrets: SecretStore, profileId: string): Promise<void> {
  await secrets.delete(auditReceiptAccount(profileId));
  await forgetDeviceHead(secrets, profileId);
}
