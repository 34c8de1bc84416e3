/**
 * The backend's own audit of what it discloses: every resource served (GET,
 * pull page, a conflict's current version) and every trail view becomes
 * BALP AuditEvents, one per patient, appended to the server's hash chain in
 * the same database transaction as the read. Each entry is the shared
 * canonical audit entry (actor the clinician, device the requesting device),
 * chained as a device chains its own: hash = SHA-256(prev_hash + "\n" +
 * entry). Appends are serialized on the one head row (UPDATE … RETURNING
 * takes its row lock until the caller's transaction ends), so concurrent
 * readers chain in commit order without gaps; a rolled-back read leaves
 * neither entries nor a moved head. Never store resource content here, only
 * references; call it late in the reading transaction (the head lock is held
 * until commit). An entry for a patient the clinician holds an active
 * break-the-glass grant for (../glass/, at the entry's time) carries purpose
 * EMERGENCY_PURPOSE ('ETREAT'), any other 'TREAT' unless the caller names
 * another purpose (the privacy console: 'HOPERAT', healthcare operations).
 */
import { createHash } from 'node:crypto';
import { EMERGENCY_PURPOSE, canonicalAuditEntry, type AuditEntry, type AuditSubtype } from '../../shared/audit-entry';
import { toBalpAuditEvent } from '../../shared/balp-audit-event';
import type { Db } from '../database';
import type { Clock } from '../clock';
import type { Caller } from '../auth/caller';
import { grantedAmong } from '../glass/grant-store';

export interface Disclosure {
  /** 'R' a read of resources; 'E' a query (a pull page, a trail view) or a consultation step. */
  action: 'R' | 'E';
  /** BALP restful-interaction subtype: 'read', 'vread', 'search-type'; or a consultation step (../signaling/consult-audit.ts); or the grant of break the glass (../glass/); or a privacy console export (../console/). */
  subtype: 'read' | 'vread' | 'search-type' | 'consult-start' | 'consult-join' | 'consult-code-confirmed' | 'consult-end' | 'break-glass' | 'export';
  patientId: string | null;
  /** `Type/id` of every resource disclosed for this patient. */
  entities: string[];
  /** '0' success; a refused or failed access is its own event with '4' or '8'. */
  outcome: '0' | '4' | '8';
  /** The request as received (path and query string), for queries; null otherwise. */
  query: string | null;
}

/** The backend as it names itself in its AuditEvents (client application, custodian, observer). */
export const BACKEND_NAME = 'clinician-backend';

/** The chain link rule, the same as the device chain's. */
export function linkHash(prevHash: string, entry: string): string {
  return createHash('sha256').update(`${prevHash}\n${entry}`).digest('hex');
}

/** The backend's network address in its AuditEvents (a URI, BALP network type 5). */
export const BACKEND_ADDRESS = 'urn:clinician-desktop:backend';

/** The BALP AuditEvent of one server entry: the requesting desktop is the client; the backend is the custodian and the observer (source). */
export function serverAuditEvent(entry: AuditEntry, hash: string): Record<string, unknown> {
  return toBalpAuditEvent(entry, { applicationName: 'clinician-desktop', custodianName: BACKEND_NAME, hash, observer: { id: BACKEND_NAME, address: BACKEND_ADDRESS } });
}

// 7 parameters a row: stay far under both engines' parameter limits.
const ROWS_PER_INSERT = 2000;

/** What a caller may say about its disclosures: `purpose`, the HL7 v3 PurposeOfUse recorded when no break-the-glass grant applies (default 'TREAT'). */
export interface DisclosureOptions {
  purpose?: string;
}

/** Appends one AuditEvent per disclosure to the server chain; call inside the reading transaction. */
export async function recordDisclosures(trx: Db, caller: Caller, items: Disclosure[], clock: Clock, options: DisclosureOptions = {}): Promise<void> {
  if (items.length === 0) return;
  // Outside a transaction the head's lock would end after the first statement and concurrent appends could interleave.
  if (!trx.isTransaction) throw new Error('recordDisclosures must run inside the reading transaction');
  // Looked up before the head's lock is taken (held until commit).
  const named = [...new Set(items.flatMap((i) => (i.patientId === null ? [] : [i.patientId])))];
  const emergency = named.length > 0 ? await grantedAmong(trx, caller.clinicianId, named, clock()) : new Set<string>();
  // Takes the head's row lock (PostgreSQL) and reserves the sequence numbers in one statement.
  const head = await trx
    .updateTable('disclosure_head')
    .set((eb) => ({ seq: eb('seq', '+', items.length) }))
    .where('id', '=', 1)
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow();
  const recordedAt = clock().toISOString();
  let seq = Number(head.seq) - items.length;
  let prevHash = head.hash;
  const rows = items.map((item) => {
    const entry: AuditEntry = {
      seq: ++seq,
      recordedAt,
      actor: caller.clinicianId,
      action: item.action,
      // 'vread' is a BALP restful-interaction code the device never records; the canonical form carries it as text.
      subtype: item.subtype as AuditSubtype,
      patientId: item.patientId,
      entities: item.entities,
      query: item.query,
      outcome: item.outcome,
      deviceId: caller.deviceId,
      purpose: item.patientId !== null && emergency.has(item.patientId) ? EMERGENCY_PURPOSE : (options.purpose ?? 'TREAT'),
      network: 'online',
    };
    const text = canonicalAuditEntry(entry);
    const hash = linkHash(prevHash, text);
    const row = { seq: entry.seq, recorded_at: recordedAt, patient_id: item.patientId, entry: text, prev_hash: prevHash, hash, event: JSON.stringify(serverAuditEvent(entry, hash)) };
    prevHash = hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await trx.insertInto('disclosure_events').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
  await trx.updateTable('disclosure_head').set({ hash: prevHash }).where('id', '=', 1).execute();
}
