/**
 * Whether uploaded audit entries are the session's own: the actor is the
 * session's clinician, the device the session's device, the time a real one
 * not in the future (beyond a small clock skew), and every patient the entry
 * names (its patient, `Patient/<id>` references, `patient=<id>` queries) one
 * the clinician had been assigned when the entry was recorded, by the
 * assignment history. An entry recorded after that assignment ended is
 * accepted but marked: a device keeps an unassigned patient while work on
 * them still waits, so such accesses really happen, and refusing their record
 * would stop the device's whole chain from ever uploading again; the privacy
 * officer sees them flagged instead. A patient never assigned, or an entry
 * before the assignment began, refuses the upload. Answers the first bad
 * entry; never says which patient (the refusal reaches the device and logs).
 */
import type { AuditEntry } from '../../shared/audit-entry';
import type { Caller } from '../auth/caller';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { assignmentPeriods } from '../organisation/assignments';

/** Device clocks and the server's differ a little; more than this is not skew. */
export const AUDIT_CLOCK_SKEW_MS = 5 * 60_000;

const PATIENT_REF = /^Patient\/([^/?#]+)/;
const PATIENT_PARAM = /[?&]patient=(?:Patient\/)?([^&#]+)/g;

/** Every patient an entry names. */
export function patientsNamed(entry: AuditEntry): Set<string> {
  const named = new Set<string>();
  if (entry.patientId !== null) named.add(entry.patientId);
  for (const ref of entry.entities) {
    const direct = PATIENT_REF.exec(ref);
    if (direct) named.add(decodeURIComponent(direct[1]!));
    for (const m of ref.matchAll(PATIENT_PARAM)) named.add(decodeURIComponent(m[1]!));
  }
  return named;
}

function isoTime(text: string): number | null {
  const t = Date.parse(text);
  return Number.isFinite(t) && new Date(t).toISOString() === text ? t : null;
}

export type EntryCheck =
  | { refused: { seq: number; problem: string } }
  /** The seqs of entries recorded after the clinician's assignment to a patient they name had ended. */
  | { refused: null; afterAssignment: ReadonlySet<number> };

export async function checkEntriesBelongToCaller(db: Db, caller: Caller, entries: AuditEntry[], clock: Clock): Promise<EntryCheck> {
  const latest = clock().getTime() + AUDIT_CLOCK_SKEW_MS;
  const patients = new Set<string>();
  for (const e of entries) {
    if (e.actor !== caller.clinicianId) return { refused: { seq: e.seq, problem: 'names someone other than the signed-in clinician' } };
    if (e.deviceId !== caller.deviceId) return { refused: { seq: e.seq, problem: 'is not from this device' } };
    const t = isoTime(e.recordedAt);
    if (t === null) return { refused: { seq: e.seq, problem: 'has no valid time' } };
    if (t > latest) return { refused: { seq: e.seq, problem: 'is recorded in the future' } };
    for (const p of patientsNamed(e)) patients.add(p);
  }
  const afterAssignment = new Set<number>();
  if (patients.size === 0) return { refused: null, afterAssignment };
  const periods = await assignmentPeriods(db, caller.clinicianId, [...patients]);
  for (const e of entries) {
    const t = isoTime(e.recordedAt)!;
    // The device's removal of the patient, or a failed access, disclosed nothing: not worth a flag.
    const disclosedNothing = e.action === 'D' || e.outcome !== '0';
    for (const p of patientsNamed(e)) {
      const begun = (periods.get(p) ?? []).filter(({ from }) => Date.parse(from) - AUDIT_CLOCK_SKEW_MS <= t);
      if (begun.length === 0) return { refused: { seq: e.seq, problem: 'names a patient not assigned to this clinician at that time' } };
      const within = begun.some(({ until }) => until === null || t <= Date.parse(until) + AUDIT_CLOCK_SKEW_MS);
      if (!within && !disclosedNothing) afterAssignment.add(e.seq);
    }
  }
  return { refused: null, afterAssignment };
}
