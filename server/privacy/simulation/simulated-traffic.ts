/**
 * Ordinary audit traffic of the simulated month: what each clinician's
 * devices record during their shifts (the worklist at the start, chart
 * opens clustered on the ward's admitted patients, searches by surname,
 * charting: creates and updates), what the backend discloses to them (sync
 * pulls of what changed), and offline stretches on the laptops that lose
 * the network. Everything a clinician touches is a patient of their ward
 * admitted at that moment (assigned to them), during their shift. Also the
 * entry builders the snooping scenarios use. Deterministic from the seed;
 * pure data (./ledger-writer stores it).
 */
import type { AuditAction, AuditOutcome, AuditSubtype } from '../../../shared/audit-entry';
import { glassFacts, glassRecordsPath } from '../../../shared/glass-api';
import { SeededRandom } from './seeded-random';
import { HOUR, MINUTE, type Admission, type Shift, type SimClinician, type SimPatient, type World } from './simulated-world';

export interface SimEntry {
  at: number;
  /** A device's own chain (uploaded) or the backend's disclosure chain. */
  source: 'device' | 'backend';
  deviceId: string;
  clinicianId: string;
  action: AuditAction;
  subtype: AuditSubtype;
  patientId: string | null;
  entities: string[];
  query: string | null;
  outcome: AuditOutcome;
  purpose: string;
  network: 'online' | 'offline';
}

/** What the scenarios reserve: ordinary traffic stays out of these. */
export interface TrafficExclusions {
  /** A clinician's ordinary traffic is dropped inside these windows (a scenario acts alone there). */
  quiet: Array<{ clinicianId: string; from: number; until: number }>;
  /** Patients a clinician never opens in ordinary traffic (`clinician|patient`). */
  untouched: Set<string>;
}

/** Offline stretches of a device: [from, until). */
export type OfflineStretches = Map<string, Array<{ from: number; until: number }>>;

export const PULL_QUERY = '/v1/sync/pull';

export class EntryBuilder {
  readonly entries: SimEntry[] = [];
  private obs = 0;

  constructor(private readonly offline: OfflineStretches) {}

  networkAt(deviceId: string, at: number): 'online' | 'offline' {
    return (this.offline.get(deviceId) ?? []).some((s) => at >= s.from && at < s.until) ? 'offline' : 'online';
  }

  private device(at: number, c: SimClinician, deviceId: string, fields: Omit<SimEntry, 'at' | 'source' | 'deviceId' | 'clinicianId' | 'network' | 'purpose'> & { purpose?: string; network?: 'online' | 'offline' }): void {
    this.entries.push({ at, source: 'device', deviceId, clinicianId: c.id, purpose: 'TREAT', network: this.networkAt(deviceId, at), ...fields });
  }

  /** A chart opened: one read naming the Patient and the newest items shown. */
  chartOpen(at: number, c: SimClinician, deviceId: string, patientId: string, rnd: SeededRandom, purpose = 'TREAT', network?: 'online' | 'offline'): void {
    const entities = [`Patient/${patientId}`];
    const items = rnd.int(2, 7);
    for (let i = 1; i <= items; i++) entities.push(`${rnd.pick(['Observation', 'Condition', 'MedicationRequest', 'Encounter'])}/${patientId}-${i}`);
    this.device(at, c, deviceId, { action: 'R', subtype: 'read', patientId, entities, query: null, outcome: '0', purpose, ...(network ? { network } : {}) });
  }

  /** Charting: a new observation or note (C), sometimes an update (U) of an existing condition. */
  charting(at: number, c: SimClinician, deviceId: string, patientId: string, rnd: SeededRandom, purpose = 'TREAT'): void {
    this.device(at, c, deviceId, { action: 'C', subtype: 'create', patientId, entities: [`Observation/${c.id}-n${++this.obs}`], query: null, outcome: '0', purpose });
    if (rnd.chance(0.25)) this.device(at + rnd.int(1, 5) * MINUTE, c, deviceId, { action: 'U', subtype: 'update', patientId, entities: [`Condition/${patientId}-1`], query: null, outcome: '0', purpose });
  }

  /** A search in the device's cache: one entry per patient shown (none shown: one entry without a patient). */
  search(at: number, c: SimClinician, deviceId: string, query: string, shown: string[]): void {
    if (shown.length === 0) this.device(at, c, deviceId, { action: 'E', subtype: 'search-type', patientId: null, entities: [], query, outcome: '0' });
    for (const p of shown) this.device(at, c, deviceId, { action: 'E', subtype: 'search-type', patientId: p, entities: [`Patient/${p}`], query, outcome: '0' });
  }

  /** The break-the-glass grant as the device records it (server/glass and the desktop write the same facts). */
  breakGlass(at: number, c: SimClinician, deviceId: string, patientId: string, reason: string, text: string, expiresAt: number): void {
    this.device(at, c, deviceId, { action: 'E', subtype: 'break-glass', patientId, entities: glassFacts({ reason, expiresAt: new Date(expiresAt).toISOString() }), query: text, outcome: '0', purpose: 'ETREAT', network: 'online' });
  }

  /** The grant as the backend records it in its own chain, in the grant's transaction. */
  glassGrant(at: number, c: SimClinician, deviceId: string, patientId: string, reason: string, text: string, expiresAt: number): void {
    this.entries.push({ at, source: 'backend', deviceId, clinicianId: c.id, action: 'E', subtype: 'break-glass', patientId, entities: glassFacts({ reason, expiresAt: new Date(expiresAt).toISOString() }), query: text, outcome: '0', purpose: 'ETREAT', network: 'online' });
  }

  /** The granted patient's records served to the device (a records page), under ETREAT. */
  glassRecords(at: number, c: SimClinician, deviceId: string, patientId: string): void {
    this.entries.push({ at, source: 'backend', deviceId, clinicianId: c.id, action: 'E', subtype: 'search-type', patientId, entities: [`Patient/${patientId}`, `Encounter/${patientId}-1`, `Observation/${patientId}-1`], query: glassRecordsPath(patientId), outcome: '0', purpose: 'ETREAT', network: 'online' });
  }

  /** A sync pull page as the backend records it: one disclosure per patient, references only. */
  pull(at: number, c: SimClinician, deviceId: string, byPatient: Map<string, string[]>, purpose = 'TREAT'): void {
    for (const [patientId, entities] of byPatient) {
      this.entries.push({ at, source: 'backend', deviceId, clinicianId: c.id, action: 'E', subtype: 'search-type', patientId, entities, query: PULL_QUERY, outcome: '0', purpose, network: 'online' });
    }
  }
}

/** The ward's admissions indexed for "who is admitted at t". */
export class Census {
  private readonly byWard = new Map<number, Admission[]>();

  constructor(world: World) {
    for (const a of world.admissions) {
      const list = this.byWard.get(a.ward) ?? [];
      list.push(a);
      this.byWard.set(a.ward, list);
    }
  }

  /** Admissions of the ward active during all of [from, until] (ordinary traffic only: scenario stays left out). */
  during(ward: number, from: number, until: number, includeScenario = false): Admission[] {
    return (this.byWard.get(ward) ?? []).filter((a) => (includeScenario || !a.scenario) && a.from <= from && (a.until === null || a.until >= until));
  }
}

/** Offline stretches: flaky laptops lose the network for 30-120 minutes in about a third of their shifts. */
export function offlineStretches(world: World, rnd: SeededRandom): OfflineStretches {
  const stretches: OfflineStretches = new Map();
  const byId = new Map(world.clinicians.map((c) => [c.id, c]));
  for (const s of world.shifts) {
    const c = byId.get(s.clinicianId)!;
    if (s.kind === 'on-call' || !c.flakyNetwork || !rnd.chance(0.33)) continue;
    const from = s.from + rnd.int(60, (s.until - s.from) / MINUTE - 150) * MINUTE;
    const list = stretches.get(c.devices[0]!) ?? [];
    list.push({ from, until: from + rnd.int(30, 120) * MINUTE });
    stretches.set(c.devices[0]!, list);
  }
  return stretches;
}

/** When in the shift something happens: day staff cluster on the morning round, night staff on the evening. */
function momentIn(rnd: SeededRandom, s: Shift, from: number, until: number): number {
  const roundStart = s.from + 30 * MINUTE;
  const roundEnd = s.from + 5 * HOUR;
  const lo = Math.max(from, s.from + 10 * MINUTE);
  const hi = Math.min(until, s.until - 10 * MINUTE);
  if (rnd.chance(0.6) && Math.max(lo, roundStart) < Math.min(hi, roundEnd)) return rnd.int(Math.max(lo, roundStart), Math.min(hi, roundEnd));
  return rnd.int(lo, hi);
}

function isQuiet(ex: TrafficExclusions, clinicianId: string, at: number): boolean {
  return ex.quiet.some((q) => q.clinicianId === clinicianId && at >= q.from && at < q.until);
}

/**
 * The ordinary traffic of every shift; on-call clinicians open a chart or
 * two from home on some nights (inside policy: they are on call), returned
 * separately as near-misses of the after-hours rule.
 */
export function ordinaryTraffic(
  world: World,
  rnd: SeededRandom,
  builder: EntryBuilder,
  exclusions: TrafficExclusions,
): { onCallAccesses: Array<{ clinicianId: string; patientIds: string[]; from: number; until: number }> } {
  const census = new Census(world);
  const byId = new Map(world.clinicians.map((c) => [c.id, c]));
  const patients = new Map<string, SimPatient>(world.patients.map((p) => [p.id, p]));
  const lastPull = new Map<string, number>();
  const onCallAccesses: Array<{ clinicianId: string; patientIds: string[]; from: number; until: number }> = [];
  const quietBuilder = {
    keep: (clinicianId: string, at: number) => !isQuiet(exclusions, clinicianId, at),
  };
  for (const s of world.shifts) {
    const c = byId.get(s.clinicianId)!;
    const laptop = c.devices[0]!;
    const device = c.devices.length > 1 && rnd.chance(0.3) ? c.devices[1]! : laptop;
    const admitted = census.during(s.ward, s.from, s.from + HOUR).filter((a) => !exclusions.untouched.has(`${c.id}|${a.patientId}`));
    if (s.kind === 'on-call') {
      if (!rnd.chance(0.3) || admitted.length === 0) continue;
      // A call from the ward at night: the on-call clinician looks at one or two patients from home.
      const at = s.from + rnd.int(3 * 60, 9 * 60) * MINUTE;
      const seen = rnd.sample(admitted, rnd.int(1, 2)).filter((a) => a.until === null || a.until > at + HOUR);
      if (seen.length === 0 || !quietBuilder.keep(c.id, at)) continue;
      seen.forEach((a, i) => builder.chartOpen(at + i * 4 * MINUTE, c, laptop, a.patientId, rnd));
      if (rnd.chance(0.5)) builder.charting(at + 12 * MINUTE, c, laptop, seen[0]!.patientId, rnd);
      onCallAccesses.push({ clinicianId: c.id, patientIds: seen.map((a) => a.patientId), from: at, until: at + 20 * MINUTE });
      continue;
    }
    const startAt = s.from + rnd.int(2, 20) * MINUTE;
    if (quietBuilder.keep(c.id, startAt)) {
      // The sync worker pulls what changed since the last pull, then the clinician opens the worklist.
      const since = lastPull.get(device) ?? s.from - 2 * 24 * HOUR;
      const changed = new Map<string, string[]>();
      for (const a of admitted) {
        if (a.from > since) changed.set(a.patientId, [`Patient/${a.patientId}`, `Encounter/${a.patientId}-1`, `Observation/${a.patientId}-1`]);
        else if (rnd.chance(0.35)) changed.set(a.patientId, [`Observation/${a.patientId}-${rnd.int(2, 9)}`]);
      }
      if (builder.networkAt(device, startAt) === 'online') {
        builder.pull(startAt, c, device, changed);
        lastPull.set(device, startAt);
      }
      builder.search(startAt + 2 * MINUTE, c, device, 'worklist', admitted.map((a) => a.patientId));
    }
    const factor = s.kind === 'night' ? 0.7 : 1;
    const k = Math.max(2, Math.round(rnd.normal(c.baseline * factor, Math.max(1, c.baseline * 0.18))));
    for (const a of rnd.sample(admitted, k)) {
      const until = a.until ?? Number.MAX_SAFE_INTEGER;
      if (until - s.from < HOUR) continue;
      const at = momentIn(rnd, s, Math.max(s.from, a.from), until - 30 * MINUTE);
      if (!quietBuilder.keep(c.id, at)) continue;
      if (rnd.chance(0.2)) {
        const p = patients.get(a.patientId)!;
        const query = rnd.chance(0.5) ? p.family : `${p.family} ${p.given.slice(0, 2)}`;
        const searchedAt = at - rnd.int(1, 3) * MINUTE;
        const shown = admitted.filter((x) => {
          const q = patients.get(x.patientId)!;
          if (x.until !== null && x.until <= searchedAt) return false;
          return q.family === p.family && (query === p.family || q.given.startsWith(p.given.slice(0, 2)));
        });
        builder.search(searchedAt, c, device, query, shown.map((x) => x.patientId));
      }
      builder.chartOpen(at, c, device, a.patientId, rnd);
      if (rnd.chance(0.65)) builder.charting(at + rnd.int(2, 15) * MINUTE, c, device, a.patientId, rnd);
      if (rnd.chance(0.35)) {
        const again = at + rnd.int(60, 240) * MINUTE;
        if (again < Math.min(until, s.until) && quietBuilder.keep(c.id, again)) builder.chartOpen(again, c, device, a.patientId, rnd);
      }
    }
    // A mid-shift pull of what colleagues changed.
    const midAt = s.from + 6 * HOUR + rnd.int(0, 60) * MINUTE;
    if (quietBuilder.keep(c.id, midAt) && builder.networkAt(device, midAt) === 'online') {
      const changed = new Map<string, string[]>();
      for (const a of admitted) if (rnd.chance(0.2) && (a.until === null || a.until > midAt)) changed.set(a.patientId, [`Observation/${a.patientId}-${rnd.int(10, 30)}`]);
      builder.pull(midAt, c, device, changed);
      lastPull.set(device, midAt);
    }
  }
  return { onCallAccesses };
}
