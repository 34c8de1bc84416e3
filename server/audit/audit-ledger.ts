/**
 * The backend's copy of each device's audit chain. A device uploads its
 * entries in order with its signed chain head; the backend checks that the
 * upload continues exactly from the last entry it accepted (sequence and
 * hash), that every entry hashes as the device's chain says and belongs to
 * that device, and that the head is signed by the device key registered at
 * enrollment. It then stores the entries (with their FHIR AuditEvent, IHE
 * BALP) and answers with a receipt signed by the backend's own key. An
 * upload repeated after its answer was lost is accepted when the entries it
 * repeats are exactly those stored. Every new entry must be the session's:
 * its actor the session's clinician, its device the session's device, and
 * every patient it names one the clinician had been assigned when the entry
 * was recorded (./upload-entry-checks; an entry from after the assignment
 * ended is stored, marked with AFTER_ASSIGNMENT_EXTENSION; a failed access to
 * a patient not assigned is stored, marked with NOT_ASSIGNED_EXTENSION, and
 * past FAILED_UNASSIGNED_PER_DAY a device-day filed under no patient; a
 * rollback entry, which continues the chain from the last accepted entry
 * after the device's cache was rolled back, is stored marked with
 * ROLLBACK_DETECTED_EXTENSION and logged as a security event; an entry
 * claiming the emergency purpose ETREAT outside every break-the-glass grant
 * of its clinician for the patient is stored marked with
 * EMERGENCY_WITHOUT_GRANT_EXTENSION). An
 * edited, reordered or truncated chain,
 * or one entry that fails those checks, is refused whole; nothing of it is
 * stored and the refusal is a security event (identifiers only).
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { AUDIT_GENESIS_HASH, ROLLBACK_SUBTYPE, auditHeadMessage, canonicalAuditSeq, parseCanonicalAuditEntry, type AuditEntry } from '../../shared/audit-entry';
import { toBalpAuditEvent } from '../../shared/balp-audit-event';
import { receiptMessage, type AuditReceipt, type AuditUpload } from '../../shared/audit-upload';
import { ApiError, badRequest, forbidden } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';
import type { Caller } from '../auth/caller';
import { securityEvent } from '../monitoring/security-log';
import { ROLLBACK_FLAG } from './audit-schema';
import { checkEntriesBelongToCaller, rollbackEntryProblem } from './upload-entry-checks';

/** Marks a device's entry recorded after the clinician's assignment to the patient had ended (for the privacy officer). */
export const AFTER_ASSIGNMENT_EXTENSION = 'urn:clinician-desktop:after-assignment';
/** Marks a device's failed access (outcome not 0) to a patient the clinician was not assigned at the time: an attempt, for the privacy officer. */
export const NOT_ASSIGNED_EXTENSION = 'urn:clinician-desktop:not-assigned';
/**
 * Marks a device's rollback entry: its cache was restored from an older copy
 * or lost recent commits, and it continues its chain from the backend's last
 * accepted entry (for the privacy officer; also a security event).
 */
export const ROLLBACK_DETECTED_EXTENSION = 'urn:clinician-desktop:rollback-detected';
/** Marks a device's entry with purpose ETREAT recorded outside every break-the-glass grant of its clinician for the patient (for the privacy officer). */
export const EMERGENCY_WITHOUT_GRANT_EXTENSION = 'urn:clinician-desktop:etreat-without-grant';
/**
 * Failed accesses to never-assigned patients filed under their patient, per
 * device and UTC day (by recordedAt). Past it such an entry is still stored
 * in the chain (refusing would stop the device's chain for good) but filed
 * under no patient (patient_id null) and marked with
 * FAILED_UNASSIGNED_OVERFLOW_EXTENSION: a flood of attempts cannot bury a
 * patient's accounting of disclosures, and the officer still sees the flood.
 */
export const FAILED_UNASSIGNED_PER_DAY = 50;
export const FAILED_UNASSIGNED_OVERFLOW_EXTENSION = 'urn:clinician-desktop:failed-unassigned-overflow';

const refuse = (why: string) => badRequest('AUDIT_CHAIN_INVALID', `The audit upload was refused: ${why}.`);

/**
 * The seqs among `failed` (failed accesses to never-assigned patients, in
 * chain order) past FAILED_UNASSIGNED_PER_DAY for their UTC day, counting
 * those this device already has filed under a patient.
 */
async function failedUnassignedOverflow(db: Db, deviceId: string, failed: AuditEntry[]): Promise<Set<number>> {
  const over = new Set<number>();
  const perDay = new Map<string, number>();
  for (const e of failed) {
    const day = e.recordedAt.slice(0, 10);
    let n = perDay.get(day);
    if (n === undefined) {
      const row = await db
        .selectFrom('audit_entries as e')
        .innerJoin('audit_entry_times as t', (j) => j.onRef('t.device_id', '=', 'e.device_id').onRef('t.seq', '=', 'e.seq'))
        .select((eb) => eb.fn.countAll().as('n'))
        .where('e.device_id', '=', deviceId)
        .where('t.patient_id', 'is not', null)
        .where('t.recorded_at', '>=', `${day}T00:00:00.000Z`)
        .where('t.recorded_at', '<=', `${day}T23:59:59.999Z`)
        .where('e.event', 'like', `%${NOT_ASSIGNED_EXTENSION}%`)
        .executeTakeFirstOrThrow();
      n = Number(row.n);
    }
    if (n >= FAILED_UNASSIGNED_PER_DAY) over.add(e.seq);
    perDay.set(day, n + 1);
  }
  return over;
}

export async function acceptAuditUpload(db: Db, caller: Caller, upload: AuditUpload, receiptKey: KeyObject, clock: Clock): Promise<AuditReceipt> {
  try {
    const rollbacks: number[] = [];
    const receipt = await storeUpload(db, caller, upload, receiptKey, clock, rollbacks);
    if (rollbacks.length > 0) securityEvent('audit-rollback-detected', { clinicianId: caller.clinicianId, deviceId: caller.deviceId, code: 'CACHE_ROLLED_BACK' });
    return receipt;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'AUDIT_CHAIN_INVALID') {
      securityEvent('audit-upload-refused', { clinicianId: caller.clinicianId, deviceId: caller.deviceId, code: err.code });
    }
    throw err;
  }
}

async function storeUpload(db: Db, caller: Caller, upload: AuditUpload, receiptKey: KeyObject, clock: Clock, rollbacks: number[]): Promise<AuditReceipt> {
  const { deviceId } = caller;
  const device = await db.selectFrom('devices').select(['public_key', 'revoked_at']).where('id', '=', deviceId).executeTakeFirst();
  if (!device || device.revoked_at) throw forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
  return db.transaction().execute(async (trx) => {
    const last = await trx
      .selectFrom('audit_entries')
      .select(['seq', 'hash'])
      .where('device_id', '=', deviceId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let prevSeq = last ? Number(last.seq) : 0;
    let prevHash = last?.hash ?? AUDIT_GENESIS_HASH;
    // Entries already accepted (an upload sent again because its answer was lost) must be exactly what is stored.
    const repeated = upload.entries.filter((e) => e.seq <= prevSeq);
    if (repeated.length > 0) {
      const stored = await trx
        .selectFrom('audit_entries')
        .select(['seq', 'entry', 'prev_hash', 'hash'])
        .where('device_id', '=', deviceId)
        .where('seq', '>=', repeated[0]!.seq)
        .where('seq', '<=', repeated.at(-1)!.seq)
        .orderBy('seq')
        .execute();
      repeated.forEach((e, i) => {
        const s = stored[i];
        if (!s || Number(s.seq) !== e.seq || s.entry !== e.entry || s.prev_hash !== e.prevHash || s.hash !== e.hash) {
          throw refuse(`entry ${e.seq} differs from the one already accepted`);
        }
      });
    }
    const rows: Array<{ device_id: string; seq: number; entry: string; prev_hash: string; hash: string; patient_id: string | null; event: string }> = [];
    const parsedEntries = [];
    for (const e of upload.entries.slice(repeated.length)) {
      if (e.seq !== prevSeq + 1) throw refuse(`entry ${e.seq} does not continue from entry ${prevSeq}`);
      if (e.prevHash !== prevHash) throw refuse(`entry ${e.seq} does not follow the last accepted entry`);
      if (canonicalAuditSeq(e.entry) !== e.seq) throw refuse(`entry ${e.seq} is not what it claims to be`);
      const hash = createHash('sha256').update(`${prevHash}\n${e.entry}`).digest('hex');
      if (hash !== e.hash) throw refuse(`entry ${e.seq} does not match its hash`);
      const parsed = parseCanonicalAuditEntry(e.entry);
      if (!parsed || parsed.deviceId !== deviceId) throw refuse(`entry ${e.seq} is not from this device`);
      const rollbackProblem = await rollbackEntryProblem(parsed, prevHash, async (seq) => {
        const inUpload = rows.find((r) => r.seq === seq);
        if (inUpload) return inUpload.hash;
        const stored = await trx.selectFrom('audit_entries').select('hash').where('device_id', '=', deviceId).where('seq', '=', seq).executeTakeFirst();
        return stored?.hash ?? null;
      });
      if (rollbackProblem) throw refuse(`entry ${e.seq} ${rollbackProblem}`);
      parsedEntries.push(parsed);
      rows.push({ device_id: deviceId, seq: e.seq, entry: e.entry, prev_hash: prevHash, hash, patient_id: parsed.patientId, event: '' });
      prevSeq = e.seq;
      prevHash = hash;
    }
    if (upload.head.seq !== prevSeq || upload.head.hash !== prevHash) throw refuse('the signed head is not the last entry');
    const checked = await checkEntriesBelongToCaller(trx, caller, parsedEntries, clock);
    if (checked.refused) throw refuse(`entry ${checked.refused.seq} ${checked.refused.problem}`);
    const overflow = await failedUnassignedOverflow(trx, deviceId, parsedEntries.filter((p) => checked.notAssigned.has(p.seq) && p.patientId !== null));
    const filedUnder = new Map<number, string | null>();
    parsedEntries.forEach((parsed, i) => {
      const event = toBalpAuditEvent(parsed, { applicationName: 'clinician-desktop', custodianName: `clinician-desktop-cache:${deviceId}`, hash: rows[i]!.hash });
      if (checked.afterAssignment.has(parsed.seq)) (event.extension as unknown[]).push({ url: AFTER_ASSIGNMENT_EXTENSION, valueBoolean: true });
      if (checked.notAssigned.has(parsed.seq)) (event.extension as unknown[]).push({ url: NOT_ASSIGNED_EXTENSION, valueBoolean: true });
      if (overflow.has(parsed.seq)) {
        (event.extension as unknown[]).push({ url: FAILED_UNASSIGNED_OVERFLOW_EXTENSION, valueBoolean: true });
        rows[i]!.patient_id = null;
      }
      filedUnder.set(parsed.seq, rows[i]!.patient_id);
      if (checked.emergencyWithoutGrant.has(parsed.seq)) (event.extension as unknown[]).push({ url: EMERGENCY_WITHOUT_GRANT_EXTENSION, valueBoolean: true });
      if (parsed.subtype === ROLLBACK_SUBTYPE) (event.extension as unknown[]).push({ url: ROLLBACK_DETECTED_EXTENSION, valueBoolean: true });
      rows[i]!.event = JSON.stringify(event);
    });
    const publicKey = createPublicKey({ key: Buffer.from(device.public_key, 'base64url'), format: 'der', type: 'spki' });
    if (!verify(null, Buffer.from(auditHeadMessage(deviceId, prevSeq, prevHash)), publicKey, Buffer.from(upload.head.signature, 'base64'))) {
      throw refuse('the chain head is not signed by this device');
    }
    // 7 parameters a row: 2,000 rows stay under both engines' parameter limits.
    for (let i = 0; i < rows.length; i += 2000) await trx.insertInto('audit_entries').values(rows.slice(i, i + 2000)).execute();
    const times = parsedEntries.map((p) => ({ device_id: deviceId, seq: p.seq, patient_id: filedUnder.get(p.seq) ?? null, recorded_at: p.recordedAt }));
    for (let i = 0; i < times.length; i += 5000) await trx.insertInto('audit_entry_times').values(times.slice(i, i + 5000)).execute();
    for (const p of parsedEntries) if (p.subtype === ROLLBACK_SUBTYPE) rollbacks.push(p.seq);
    // The review reads these flags, set here only, never the entry text (which the clinician controls).
    const flags = parsedEntries.filter((p) => p.subtype === ROLLBACK_SUBTYPE).map((p) => ({ device_id: deviceId, seq: p.seq, flag: ROLLBACK_FLAG, recorded_at: p.recordedAt }));
    if (flags.length > 0) await trx.insertInto('audit_flags').values(flags).execute();
    const receipt = { deviceId, seq: prevSeq, hash: prevHash, receivedAt: clock().toISOString() };
    return { ...receipt, signature: sign(null, Buffer.from(receiptMessage(receipt)), receiptKey).toString('base64') };
  });
}
