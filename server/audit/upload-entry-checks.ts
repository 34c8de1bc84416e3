/**
 * Whether uploaded audit entries are the session's own: the actor is the
 * session's clinician, the device the session's device, the time a real one
 * not in the future (beyond a small clock skew), and every patient the entry
 * names one the clinician had been assigned when the entry was recorded, by
 * the assignment history, or held a break-the-glass grant for (../glass/:
 * a grant's period counts as an assignment period, granted_at to
 * expires_at). "Names" is read the way a FHIR server would:
 * its patient, `Patient/<id>` anywhere in an entity or a FHIR-syntax query
 * (absolute, relative, any case), `patient=`/`subject=`/`Patient?_id=`
 * search parameters, percent-decoded once; a reference that cannot be
 * decoded refuses the upload (never a 500). A search's free text is not a
 * reference and names nobody. An entry recorded after that assignment ended is
 * accepted but marked: a device keeps an unassigned patient while work on
 * them still waits, so such accesses really happen, and refusing their record
 * would stop the device's whole chain from ever uploading again; the privacy
 * officer sees them flagged instead. A failed access (outcome not 0)
 * disclosed nothing and an attempt on another's patient is what the privacy
 * officer wants to see: accepted for any patient, flagged not-assigned. A
 * successful access to a patient never assigned, or before the assignment
 * began, refuses the upload. Answers the first bad
 * entry; never says which patient (the refusal reaches the device and logs).
 * A rollback entry (the device found its cache rolled back) must say
 * truthfully where it continues: right after the entry it follows (the
 * backend's last accepted one, by seq and hash) and from an entry the
 * backend holds with the hash it names; it is then accepted and flagged.
 * Its other form (the device found entries lost that the backend may never
 * have seen, by the chain head it kept in its keychain) follows the chain's
 * last entry like any entry and names the lost range: the entry it names as
 * kept must come before it (and be the very entry it follows when right
 * before it; re-chained behind a later rollback it moves on, its content
 * unchanged); it bridges no gap, so it can hide nothing; accepted, flagged.
 * An entry with purpose EMERGENCY_PURPOSE ('ETREAT') claims a break-the-glass
 * grant: one recorded outside every grant period (with the clock skew) of
 * the clinician for a patient it names is accepted but flagged
 * (emergencyWithoutGrant), never refused: refusing would stop the device's
 * whole chain, and the false claim is what the privacy officer must see.
 * Time: recordedAt must be a strict ISO UTC timestamp with a 4-digit year
 * (YYYY-MM-DDTHH:mm:ss.sssZ, what a device's toISOString writes for any
 * real date; never the extended `-000001-…`/`+010000-…` forms that
 * Date.parse and toISOString round-trip), not after now plus the clock skew
 * and not before the device's enrollment minus the skew. Such an entry is
 * refused, not stored flagged: no honest device records it (its chain
 * starts at enrollment), and a stored one would reach the privacy monitor's
 * time arithmetic. The cost, the same as for a future time: a device whose
 * wall clock was set back past its enrollment stops uploading until IT
 * re-enrolls it; the refusal and its security event say why.
 */
import { AUDIT_GENESIS_HASH, EMERGENCY_PURPOSE, ROLLBACK_SUBTYPE, lostRangeFacts, rollbackFacts, type AuditEntry } from '../../shared/audit-entry';
import type { Caller } from '../auth/caller';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { assignmentPeriods } from '../organisation/assignments';
import { grantPeriods } from '../glass/grant-store';

/** Device clocks and the server's differ a little; more than this is not skew. */
export const AUDIT_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * `Patient/<id>` anywhere in a reference (relative, absolute, after a slash
 * or inside a search value), any case; not where "patient" ends a longer
 * name or id (`Observation/xpatient/_history/2` names no patient).
 */
const PATIENT_REF = /(?<![A-Za-z0-9_.-])patient\/([^/?#&;,|\s]+)/gi;
/** One `name[:modifier]=value` search parameter, at the start or after `?`, `&` or `;`. */
const SEARCH_PARAM = /(?:^|[?&;])([^=&;?#\s]+)=([^&;#]*)/g;
/** The path of a Patient search (`Patient?`, `/Patient?`, `https://…/Patient/_search?`), where `_id` is a patient's id. */
const PATIENT_SEARCH_PATH = /(?:^|\/)patient(?:\/_search)?$/i;
const PATIENT_PARAMS: ReadonlySet<string> = new Set(['patient', 'subject']);

/** Patients named by the value of a patient search parameter: bare ids or `Patient/<id>` (other types name none). */
function idsInValue(value: string, into: Set<string>): void {
  for (const part of value.split(',')) {
    const v = part.trim();
    if (v !== '' && !v.includes('/')) into.add(v);
  }
}

/** Every patient one reference or search names, read from its text already decoded. */
function patientsInReference(text: string, into: Set<string>): void {
  for (const m of text.matchAll(PATIENT_REF)) into.add(m[1]!);
  const patientSearch = PATIENT_SEARCH_PATH.test(text.split(/[?#]/)[0]!);
  for (const m of text.matchAll(SEARCH_PARAM)) {
    const [name, modifier] = m[1]!.toLowerCase().split(':');
    if (modifier !== undefined && modifier !== 'patient') continue; // :missing, :identifier, :Group… name no patient id.
    if (PATIENT_PARAMS.has(name!) || (name === '_id' && patientSearch)) idsInValue(m[2]!, into);
  }
}

function decodeOnce(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * Every patient an entry names: its patient, every entity (a reference,
 * percent-decoded once) and its query. Null when an entity cannot be
 * decoded: what it names cannot be known, so the entry is refused. A
 * search's query is the clinician's own typing: only explicit references
 * and search parameters in it name anyone (free text such as a name or a
 * birth date names nobody), read decoded where it decodes and as typed where
 * it does not (a bare "%" in a search must not stop the device's chain).
 */
export function patientsNamed(entry: AuditEntry): Set<string> | null {
  const named = new Set<string>();
  if (entry.patientId !== null) named.add(entry.patientId);
  for (const ref of entry.entities) {
    const decoded = decodeOnce(ref);
    if (decoded === null) return null;
    patientsInReference(decoded, named);
  }
  if (entry.query !== null) {
    patientsInReference(entry.query, named);
    const decoded = decodeOnce(entry.query);
    if (decoded !== null) patientsInReference(decoded, named);
  }
  return named;
}

/** YYYY-MM-DDTHH:mm:ss.sssZ with a 4-digit year, nothing else. */
const STRICT_ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isoTime(text: string): number | null {
  if (!STRICT_ISO_UTC.test(text)) return null;
  const t = Date.parse(text);
  return Number.isFinite(t) && new Date(t).toISOString() === text ? t : null;
}

export type EntryCheck =
  | { refused: { seq: number; problem: string } }
  | {
      refused: null;
      /** The seqs of entries recorded after the clinician's assignment to a patient they name had ended. */
      afterAssignment: ReadonlySet<number>;
      /** The seqs of failed accesses (outcome not 0) naming a patient the clinician was not assigned at the time. */
      notAssigned: ReadonlySet<number>;
      /** The seqs of entries with purpose ETREAT recorded outside every break-the-glass grant of the clinician for the patients they name. */
      emergencyWithoutGrant: ReadonlySet<number>;
    };

export async function checkEntriesBelongToCaller(db: Db, caller: Caller, entries: AuditEntry[], clock: Clock): Promise<EntryCheck> {
  const latest = clock().getTime() + AUDIT_CLOCK_SKEW_MS;
  const device = await db.selectFrom('devices').select('created_at').where('id', '=', caller.deviceId).executeTakeFirst();
  const enrolled = device ? Date.parse(device.created_at) : NaN;
  // A device the backend does not hold has no chain to check: refuse its every entry (its session cannot exist either).
  const earliest = Number.isFinite(enrolled) ? enrolled - AUDIT_CLOCK_SKEW_MS : Infinity;
  const patients = new Set<string>();
  const namedBy = new Map<number, Set<string>>();
  for (const e of entries) {
    if (e.actor !== caller.clinicianId) return { refused: { seq: e.seq, problem: 'names someone other than the signed-in clinician' } };
    if (e.deviceId !== caller.deviceId) return { refused: { seq: e.seq, problem: 'is not from this device' } };
    const t = isoTime(e.recordedAt);
    if (t === null) return { refused: { seq: e.seq, problem: 'has no valid time' } };
    if (t > latest) return { refused: { seq: e.seq, problem: 'is recorded in the future' } };
    if (t < earliest) return { refused: { seq: e.seq, problem: 'is recorded before the device was enrolled' } };
    const named = patientsNamed(e);
    if (named === null) return { refused: { seq: e.seq, problem: 'holds a reference that cannot be decoded' } };
    namedBy.set(e.seq, named);
    for (const p of named) patients.add(p);
  }
  const afterAssignment = new Set<number>();
  const notAssigned = new Set<number>();
  const emergencyWithoutGrant = new Set<number>();
  if (patients.size === 0) {
    for (const e of entries) if (e.purpose === EMERGENCY_PURPOSE) emergencyWithoutGrant.add(e.seq);
    return { refused: null, afterAssignment, notAssigned, emergencyWithoutGrant };
  }
  const periods = await assignmentPeriods(db, caller.clinicianId, [...patients]);
  const grants = await grantPeriods(db, caller.clinicianId, [...patients]);
  for (const [p, list] of grants) periods.set(p, [...(periods.get(p) ?? []), ...list]);
  for (const e of entries) {
    const t = isoTime(e.recordedAt)!;
    if (e.purpose === EMERGENCY_PURPOSE) {
      const underGrant = [...namedBy.get(e.seq)!].some((p) =>
        (grants.get(p) ?? []).some(({ from, until }) => Date.parse(from) - AUDIT_CLOCK_SKEW_MS <= t && t <= Date.parse(until) + AUDIT_CLOCK_SKEW_MS),
      );
      if (!underGrant) emergencyWithoutGrant.add(e.seq);
    }
    const failed = e.outcome !== '0';
    // The device's removal of the patient, or a failed access, disclosed nothing: not worth an after-assignment flag.
    const disclosedNothing = e.action === 'D' || failed;
    for (const p of namedBy.get(e.seq)!) {
      const begun = (periods.get(p) ?? []).filter(({ from }) => Date.parse(from) - AUDIT_CLOCK_SKEW_MS <= t);
      if (begun.length === 0) {
        // A failed attempt on someone else's patient is what the privacy officer wants to see, not a reason to lose the chain.
        if (failed) {
          notAssigned.add(e.seq);
          continue;
        }
        return { refused: { seq: e.seq, problem: 'names a patient not assigned to this clinician at that time' } };
      }
      const within = begun.some(({ until }) => until === null || t <= Date.parse(until) + AUDIT_CLOCK_SKEW_MS);
      if (!within && !disclosedNothing) afterAssignment.add(e.seq);
    }
  }
  return { refused: null, afterAssignment, notAssigned, emergencyWithoutGrant };
}

/**
 * Why a rollback entry cannot be accepted, or null (also for any other
 * entry). `prevHash` is the hash of the entry it follows; `storedHash` looks
 * up the hash the backend holds (or is storing in this upload) at a seq.
 */
export async function rollbackEntryProblem(entry: AuditEntry, prevHash: string, storedHash: (seq: number) => Promise<string | null>): Promise<string | null> {
  if (entry.subtype !== ROLLBACK_SUBTYPE) return null;
  if (entry.action !== 'E' || entry.outcome !== '0') return 'is a rollback entry without its facts';
  const lost = lostRangeFacts(entry);
  if (lost) {
    if (lost.keptSeq >= entry.seq) return 'is a rollback entry that names no earlier entry';
    if (lost.keptSeq === entry.seq - 1 && lost.keptHash !== prevHash) return 'is a rollback entry that does not follow the entry it names';
    return null;
  }
  const facts = rollbackFacts(entry);
  if (!facts) return 'is a rollback entry without its facts';
  if (facts.backendSeq !== entry.seq - 1 || facts.backendHash !== prevHash) return 'is a rollback entry that does not follow the entry it names';
  if (facts.keptSeq >= facts.backendSeq) return 'is a rollback entry that names no earlier shared entry';
  const kept = facts.keptSeq === 0 ? AUDIT_GENESIS_HASH : await storedHash(facts.keptSeq);
  if (kept !== facts.keptHash) return 'is a rollback entry that names a shared entry the backend does not hold';
  return null;
}
