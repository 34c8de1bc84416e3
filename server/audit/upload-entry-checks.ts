/**
 * Whether uploaded audit entries are the session's own: the actor is the
 * session's clinician, the device the session's device, the time a real one
 * not in the future (beyond a small clock skew), and every patient the entry
 * names (its patient, `Patient/<id>` references, `patient=<id>` queries) one
 * the clinician was assigned when the entry was recorded, by the assignment
 * history. Two kinds of entry may come after an assignment ended, for a
 * patient the clinician had been assigned before: the device's removal of the
 * patient from its cache ('D', which discloses nothing) and a failed access
 * (outcome not '0', which disclosed nothing). Answers the first bad entry;
 * never says which patient (the refusal message reaches the device and logs).
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

export async function checkEntriesBelongToCaller(
  db: Db,
  caller: Caller,
  entries: AuditEntry[],
  clock: Clock,
): Promise<{ seq: number; problem: string } | null> {
  const latest = clock().getTime() + AUDIT_CLOCK_SKEW_MS;
  const patients = new Set<string>();
  for (const e of entries) {
    if (e.actor !== caller.clinicianId) return { seq: e.seq, problem: "names someone other than the signed-in clinician" };
    if (e.deviceId !== caller.deviceId) return { seq: e.seq, problem: 'is not from this device' };
    const t = isoTime(e.recordedAt);
    if (t === null) return { seq: e.seq, problem: 'has no valid time' };
    if (t > latest) return { seq: e.seq, problem: 'is recorded in the future' };
    for (const p of patientsNamed(e)) patients.add(p);
  }
  if (patients.size === 0) return null;
  const periods = await assignmentPeriods(db, caller.clinicianId, [...patients]);
  for (const e of entries) {
    const t = isoTime(e.recordedAt)!;
    const disclosedNothing = e.action === 'D' || e.outcome !== '0';
    for (const p of patientsNamed(e)) {
      const ok = (periods.get(p) ?? []).some(
        ({ from, until }) =>
          Date.parse(from) - AUDIT_CLOCK_SKEW_MS <= t && (disclosedNothing || until === null || t <= Date.parse(until) + AUDIT_CLOCK_SKEW_MS),
      );
      if (!ok) return { seq: e.seq, problem: 'names a patient not assigned to this clinician at that time' };
    }
  }
  return null;
}
