/**
 * Stores a simulated month in the backend's real tables, exactly as the
 * backend itself would have stored that traffic: clinicians and their
 * devices (Ed25519 public keys derived from the seed), Patient resources
 * (names, addresses, VIP/staff as FHIR security labels), current
 * assignments and the whole assignment history, each device's audit chain
 * (canonical entries, SHA-256 links, the BALP AuditEvent with the marks the
 * backend's own upload checks set: after-assignment, not-assigned, ETREAT
 * outside a grant) and the entries' recorded times, the break-the-glass
 * grants, the roster (every day and night shift and on-call night, through
 * the rota import's own addRota, as `import-rota` stores it), and the
 * backend's own disclosure chain and its head. Batched multi-row inserts inside transactions, so a month loads in
 * reasonable time on PostgreSQL. Only for an empty, migrated database
 * (simulation, tests, benchmarks); never run it against a live hospital's.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { AUDIT_GENESIS_HASH, canonicalAuditEntry, type AuditEntry } from '../../../shared/audit-entry';
import { toBalpAuditEvent } from '../../../shared/balp-audit-event';
import { AFTER_ASSIGNMENT_EXTENSION, EMERGENCY_WITHOUT_GRANT_EXTENSION, NOT_ASSIGNED_EXTENSION } from '../../audit/audit-ledger';
import { linkHash, serverAuditEvent } from '../../audit/disclosure-ledger';
import { checkEntriesBelongToCaller } from '../../audit/upload-entry-checks';
import type { Db } from '../../database';
import { PATIENT_FLAG_SYSTEM } from '../patient-keys';
import { addRota, type RotaEntry } from '../rota';
import { setStaffDetails } from '../staff-directory';
import type { SimulatedMonth } from './simulated-month';
import type { PatientFlag, SimPatient } from './simulated-world';

/** The security label of a VIP or staff patient, as the record carries it (the monitoring rules read it). */
export const PATIENT_FLAG_SECURITY: Record<PatientFlag, { system: string; code: string }> = {
  vip: { system: PATIENT_FLAG_SYSTEM, code: 'vip' },
  staff: { system: PATIENT_FLAG_SYSTEM, code: 'staff' },
};

export interface LoadReport {
  clinicians: number;
  devices: number;
  patients: number;
  assignmentPeriods: number;
  /** Rostered periods stored (day and night shifts as 'shift', on-call nights as 'on-call'). */
  rotaPeriods: number;
  deviceEntries: number;
  backendEntries: number;
  /** Marks the backend's upload checks set (../../audit/upload-entry-checks): after the assignment ended, a failed open of a stranger, ETREAT outside a grant. */
  afterAssignment: number;
  notAssigned: number;
  emergencyWithoutGrant: number;
  ms: number;
}

const iso = (t: number) => new Date(t).toISOString();

async function insertAll<T extends Record<string, unknown>>(db: Db, table: string, rows: T[], perInsert: number, perTransaction = 40_000): Promise<void> {
  for (let i = 0; i < rows.length; i += perTransaction) {
    const chunk = rows.slice(i, i + perTransaction);
    await db.transaction().execute(async (trx) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      for (let j = 0; j < chunk.length; j += perInsert) await trx.insertInto(table as any).values(chunk.slice(j, j + perInsert) as any).execute();
    });
  }
}

/** The simulated device's public key (SPKI, base64url) from the seed and its id: stable across runs, never a real device's. */
export function simulatedDeviceKey(seed: number, deviceId: string): string {
  const secret = createHash('sha256').update(`clinician-desktop simulated device ${seed} ${deviceId}`).digest();
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), secret]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('base64url');
}

export function patientResource(p: SimPatient): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    id: p.id,
    ...(p.flags.length > 0 ? { meta: { security: p.flags.map((f) => PATIENT_FLAG_SECURITY[f]) } } : {}),
    identifier: [{ system: 'urn:clinician-desktop:simulated-mrn', value: p.id.replace('sim-p', 'MRN') }],
    name: [{ use: 'official', family: p.family, given: [p.given] }],
    gender: p.gender,
    birthDate: p.birthDate,
    address: [{ use: 'home', line: [p.address.line], city: p.address.city, postalCode: p.address.postalCode, country: 'GB' }],
  };
}

export async function writeSimulatedMonth(db: Db, month: SimulatedMonth): Promise<LoadReport> {
  const started = Date.now();
  const { world } = month;
  const seed = world.options.seed;
  const before = iso(world.start - 365 * 24 * 3_600_000);

  await insertAll(db, 'clinicians', world.clinicians.map((c) => ({ id: c.id, display_name: c.displayName, created_at: before, revoked_at: null })), 2000);
  const devices = world.clinicians.flatMap((c) => c.devices.map((d) => ({ id: d, clinician_id: c.id, public_key: simulatedDeviceKey(seed, d), created_at: before, last_seen_at: iso(world.end), revoked_at: null })));
  await insertAll(db, 'devices', devices, 1000);
  // The staff directory the surname/address rule compares with (an admin command sets it in a real hospital).
  for (const c of world.clinicians) await setStaffDetails(db, c.id, { surname: c.family, address: { line: [c.home.line], city: c.home.city, postalCode: c.home.postalCode } });
  // The roster as an admin imports it (`import-rota`): every shift and on-call night the world planned.
  const rota = world.shifts.map((s): RotaEntry => ({ clinicianId: s.clinicianId, kind: s.kind === 'on-call' ? 'on-call' : 'shift', startsAt: iso(s.from), endsAt: iso(s.until) }));
  await addRota(db, rota);
  // As loaded one bundle per patient (the Synthea way): each Patient its own change number.
  await insertAll(db, 'resources', world.patients.map((p, i) => ({ resource_type: 'Patient', id: p.id, patient_id: p.id, json: JSON.stringify(patientResource(p)), change_seq: i + 1 })), 2000);
  await db.updateTable('counters').set({ value: world.patients.length }).where('name', '=', 'change_seq').execute();

  const periods = world.periods.map((p) => ({ clinician_id: p.clinicianId, patient_id: p.patientId, assigned_at: iso(p.from), unassigned_at: p.until === null || p.until >= world.end ? null : iso(p.until) }));
  await insertAll(db, 'assignment_periods', periods, 2000);
  const current = new Set(periods.filter((p) => p.unassigned_at === null).map((p) => `${p.clinician_id}\u0000${p.patient_id}`));
  await insertAll(db, 'assignments', [...current].map((k) => { const [clinician_id, patient_id] = k.split('\u0000') as [string, string]; return { clinician_id, patient_id }; }), 2000);

  await insertAll(
    db,
    'glass_grants',
    month.grants.map((g) => ({ id: g.id, clinician_id: g.clinicianId, device_id: g.deviceId, patient_id: g.patientId, reason_code: g.reason, reason_text: g.text, granted_at: iso(g.from), expires_at: iso(g.until) })),
    1000,
  );

  const backendRows: Array<Record<string, unknown>> = [];
  let serverSeq = 0;
  let serverHash = AUDIT_GENESIS_HASH;
  const byDevice = new Map<string, AuditEntry[]>();
  for (const e of month.entries) {
    if (e.source === 'backend') {
      const entry: AuditEntry = { seq: ++serverSeq, recordedAt: iso(e.at), actor: e.clinicianId, action: e.action, subtype: e.subtype, patientId: e.patientId, entities: e.entities, query: e.query, outcome: e.outcome, deviceId: e.deviceId, purpose: e.purpose, network: 'online' };
      const text = canonicalAuditEntry(entry);
      const hash = linkHash(serverHash, text);
      backendRows.push({ seq: entry.seq, recorded_at: entry.recordedAt, patient_id: e.patientId, entry: text, prev_hash: serverHash, hash, event: JSON.stringify(serverAuditEvent(entry, hash)) });
      serverHash = hash;
      continue;
    }
    const chain = byDevice.get(e.deviceId) ?? [];
    chain.push({ seq: chain.length + 1, recordedAt: iso(e.at), actor: e.clinicianId, action: e.action, subtype: e.subtype, patientId: e.patientId, entities: e.entities, query: e.query, outcome: e.outcome, deviceId: e.deviceId, purpose: e.purpose, network: e.network });
    byDevice.set(e.deviceId, chain);
  }

  // Each device's chain as its uploads would be stored: the backend's own checks decide the marks (and would refuse nothing).
  const deviceRows: Array<Record<string, unknown>> = [];
  const timeRows: Array<Record<string, unknown>> = [];
  let afterAssignment = 0;
  let notAssigned = 0;
  let emergencyWithoutGrant = 0;
  const owner = new Map(world.clinicians.flatMap((c) => c.devices.map((d) => [d, c.id] as const)));
  const clock = () => new Date(world.end);
  for (const [deviceId, entries] of byDevice) {
    const checked = await checkEntriesBelongToCaller(db, { clinicianId: owner.get(deviceId)!, deviceId, scope: 'sync' }, entries, clock);
    if (checked.refused) throw new Error(`the simulation made an entry the backend refuses (${deviceId} ${checked.refused.seq}: ${checked.refused.problem})`);
    let prevHash = AUDIT_GENESIS_HASH;
    for (const entry of entries) {
      const text = canonicalAuditEntry(entry);
      const hash = linkHash(prevHash, text);
      const event = toBalpAuditEvent(entry, { applicationName: 'clinician-desktop', custodianName: `clinician-desktop-cache:${deviceId}`, hash });
      const extensions = event.extension as unknown[];
      if (checked.afterAssignment.has(entry.seq)) {
        extensions.push({ url: AFTER_ASSIGNMENT_EXTENSION, valueBoolean: true });
        afterAssignment++;
      }
      if (checked.notAssigned.has(entry.seq)) {
        extensions.push({ url: NOT_ASSIGNED_EXTENSION, valueBoolean: true });
        notAssigned++;
      }
      if (checked.emergencyWithoutGrant.has(entry.seq)) {
        extensions.push({ url: EMERGENCY_WITHOUT_GRANT_EXTENSION, valueBoolean: true });
        emergencyWithoutGrant++;
      }
      deviceRows.push({ device_id: deviceId, seq: entry.seq, entry: text, prev_hash: prevHash, hash, patient_id: entry.patientId, event: JSON.stringify(event) });
      timeRows.push({ device_id: deviceId, seq: entry.seq, patient_id: entry.patientId, recorded_at: entry.recordedAt });
      prevHash = hash;
    }
  }
  // Stored in (device, seq) order, as uploads arrive per device.
  deviceRows.sort((a, b) => (a.device_id as string).localeCompare(b.device_id as string) || (a.seq as number) - (b.seq as number));
  await insertAll(db, 'audit_entries', deviceRows, 2000);
  await insertAll(db, 'audit_entry_times', timeRows, 5000);
  await insertAll(db, 'disclosure_events', backendRows, 2000);
  await db.updateTable('disclosure_head').set({ seq: serverSeq, hash: serverHash }).where('id', '=', 1).execute();
  return {
    clinicians: world.clinicians.length,
    devices: devices.length,
    patients: world.patients.length,
    assignmentPeriods: periods.length,
    rotaPeriods: rota.length,
    deviceEntries: deviceRows.length,
    backendEntries: backendRows.length,
    afterAssignment,
    notAssigned,
    emergencyWithoutGrant,
    ms: Date.now() - started,
  };
}
