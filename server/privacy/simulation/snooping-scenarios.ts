/**
 * The injected snooping behaviours of the simulated month, one family per
 * monitoring rule, each recorded as ground truth (rule, clinician,
 * patients, time window), and the near-misses that must not be flagged: a
 * clinician who legitimately carries a big panel every day, on-call
 * clinicians opening a chart at night from home, clinicians with a common
 * surname treating patients who share it. Scenarios run before the
 * ordinary traffic: they place their own patients (relatives, VIPs, staff
 * as patients) and keep ordinary traffic out of their windows, so each case
 * shows exactly the behaviour it injects. Deterministic from the seed.
 */
import type { GroundTruth, InjectedCase, NearMiss, RuleFamily } from './ground-truth';
import { SeededRandom } from './seeded-random';
import { Census, EntryBuilder, type OfflineStretches, type TrafficExclusions } from './simulated-traffic';
import { DAY, HOUR, MINUTE, admitToWard, dressReserved, type Shift, type SimClinician, type World } from './simulated-world';

/** A break-the-glass grant, as the backend's glass_grants row holds it. */
export interface SimGrant {
  id: string;
  clinicianId: string;
  deviceId: string;
  patientId: string;
  reason: string;
  text: string;
  from: number;
  until: number;
}

export interface ScenarioPlan {
  truth: GroundTruth;
  grants: SimGrant[];
  exclusions: TrafficExclusions;
  /** The clinician whose big panel every day is a near-miss of the volume rule. */
  bigPanelClinicianId: string;
}

/** Injected cases per family: enough that one miss still leaves recall >= 0.9 (10 cases: 0.9). */
export interface ScenarioOptions {
  casesPerFamily: number;
  /** Injections start on this day of the month (the days before are every clinician's baseline). */
  firstDay: number;
}

export function planScenarios(world: World, rnd: SeededRandom, builder: EntryBuilder, offline: OfflineStretches, options: ScenarioOptions): ScenarioPlan {
  const cases: InjectedCase[] = [];
  const nearMisses: NearMiss[] = [];
  const exclusions: TrafficExclusions = { quiet: [], untouched: new Set() };
  const grants: SimGrant[] = [];
  const census = new Census(world);
  const byId = new Map(world.clinicians.map((c) => [c.id, c]));
  const busy = new Set<string>();
  const dayOf = (t: number) => Math.floor((t - world.start) / DAY);
  const lastDay = world.options.days - 2;

  // The near-miss of the volume rule: one day clinician sees three times the usual number of patients, every shift.
  const bigPanel = world.clinicians.find((c) => c.role === 'day' && c.ward === world.options.wards - 1)!;
  bigPanel.baseline = Math.min(30, Math.floor(world.options.bedsPerWard * 0.7));
  nearMisses.push({ id: 'near-big-panel', rule: 'volume-spike', clinicianId: bigPanel.id, patientIds: [], from: world.start, until: world.end, what: 'a clinician whose panel is three times the usual, every shift' });

  const shiftsByClinician = new Map<string, Shift[]>();
  for (const s of world.shifts) shiftsByClinician.set(s.clinicianId, [...(shiftsByClinician.get(s.clinicianId) ?? []), s]);
  const shiftsOf = (c: SimClinician) => shiftsByClinician.get(c.id) ?? [];
  const eligible = (s: Shift, kinds: Shift['kind'][]) =>
    kinds.includes(s.kind) && s.clinicianId !== bigPanel.id && dayOf(s.from) >= options.firstDay && dayOf(s.until) <= lastDay && !busy.has(`${s.clinicianId}|${dayOf(s.from)}`);
  const claim = (clinicianId: string, t: number) => {
    busy.add(`${clinicianId}|${dayOf(t)}`);
    busy.add(`${clinicianId}|${dayOf(t) - 1}`);
    busy.add(`${clinicianId}|${dayOf(t) + 1}`);
  };
  const pickShift = (kinds: Shift['kind'][], r: SeededRandom, extra: (s: Shift) => boolean = () => true): Shift => {
    const options = world.shifts.filter((s) => eligible(s, kinds) && extra(s));
    if (options.length === 0) throw new Error('the world is too small for the scenarios');
    const s = r.pick(options);
    claim(s.clinicianId, s.from);
    return s;
  };
  const quiet = (clinicianId: string, from: number, until: number) => exclusions.quiet.push({ clinicianId, from: from - 15 * MINUTE, until: until + 15 * MINUTE });
  const add = (rule: RuleFamily, n: number, c: SimClinician, patientIds: string[], from: number, until: number, what: string, alsoAcceptable: RuleFamily[] = []) =>
    cases.push({ id: `${rule}-${n + 1}`, rule, alsoAcceptable, clinicianId: c.id, patientIds, from, until, what });
  const admittedAt = (s: Shift, at: number, until: number) => census.during(s.ward, at, until).filter((a) => !exclusions.untouched.has(`${s.clinicianId}|${a.patientId}`));

  for (let n = 0; n < options.casesPerFamily; n++) {
    // Break the glass: a patient of another ward (never assigned), the grant, reads and a note under ETREAT for a while.
    {
      const r = rnd.fork(`glass-${n}`);
      const s = pickShift(['day', 'night'], r);
      const c = byId.get(s.clinicianId)!;
      const at = s.from + r.int(2 * 60, 6 * 60) * MINUTE;
      const other = world.admissions.filter((a) => a.ward !== c.ward && !a.scenario && a.from <= at && (a.until === null || a.until > at + 4 * HOUR));
      const p = r.pick(other).patientId;
      const reason = r.pick(['emergency-treatment', 'patient-transferred', 'covering-colleague'] as const);
      const expires = at + 4 * HOUR;
      const text = 'seen in the emergency department, transferred to us';
      grants.push({ id: `sim-grant-${n + 1}`, clinicianId: c.id, deviceId: c.devices[0]!, patientId: p, reason, text, from: at, until: expires });
      builder.glassGrant(at, c, c.devices[0]!, p, reason, text, expires);
      builder.breakGlass(at + 2000, c, c.devices[0]!, p, reason, text, expires);
      builder.glassRecords(at + MINUTE, c, c.devices[0]!, p);
      builder.chartOpen(at + 3 * MINUTE, c, c.devices[0]!, p, r, 'ETREAT', 'online');
      builder.charting(at + 10 * MINUTE, c, c.devices[0]!, p, r, 'ETREAT');
      if (r.chance(0.5)) builder.chartOpen(at + r.int(60, 200) * MINUTE, c, c.devices[0]!, p, r, 'ETREAT', 'online');
      add('break-glass', n, c, [p], at, at + 4 * HOUR, `broke the glass (${reason}) on a patient of another ward`, ['unassigned-access']);
    }
    // Unassigned: reads of a patient days after the stay (and the assignment) ended: the device kept the record.
    {
      const r = rnd.fork(`unassigned-${n}`);
      const ended = (x: Shift) => world.admissions.some((a) => a.ward === byId.get(x.clinicianId)!.ward && !a.scenario && a.until !== null && a.until < x.from - 6 * HOUR && a.until > x.from - 3 * DAY);
      const s = pickShift(['day'], r, ended);
      const c = byId.get(s.clinicianId)!;
      const at = s.from + r.int(60, 300) * MINUTE;
      const discharged = world.admissions.filter((a) => a.ward === c.ward && !a.scenario && a.until !== null && a.until < s.from - 6 * HOUR && a.until > s.from - 3 * DAY);
      const a = r.pick(discharged);
      builder.chartOpen(at, c, c.devices[0]!, a.patientId, r);
      builder.chartOpen(at + r.int(5, 40) * MINUTE, c, c.devices[0]!, a.patientId, r);
      add('unassigned-access', n, c, [a.patientId], at, at + 41 * MINUTE, 'kept reading a patient after the stay (and the assignment) ended');
    }
    // Volume: one shift with about four times the clinician's usual distinct patients, charted as usual.
    {
      const r = rnd.fork(`volume-${n}`);
      const s = pickShift(['day'], r, (x) => byId.get(x.clinicianId)!.role !== 'float');
      const c = byId.get(s.clinicianId)!;
      const admitted = admittedAt(s, s.from, s.until);
      const extra = r.sample(admitted, Math.min(admitted.length, c.baseline * 3));
      const times = extra.map(() => s.from + r.int(30, 11 * 60) * MINUTE).sort((a, b) => a - b);
      extra.forEach((a, i) => {
        builder.chartOpen(times[i]!, c, c.devices[0]!, a.patientId, r);
        if (r.chance(0.6)) builder.charting(times[i]! + r.int(2, 12) * MINUTE, c, c.devices[0]!, a.patientId, r);
      });
      add('volume-spike', n, c, extra.map((a) => a.patientId), s.from, s.until, `opened ${extra.length} more patients than usual in one shift`, ['many-charts-no-charting']);
    }
    // After hours: a day clinician, neither on a night shift nor on call, opens ward charts from home at 1-3 am.
    {
      const r = rnd.fork(`after-hours-${n}`);
      // Not covered from midnight to 4 am by a night shift or on-call of their own.
      const offDuty = (x: Shift) => byId.get(x.clinicianId)!.role === 'day' && !shiftsOf(byId.get(x.clinicianId)!).some((y) => y.from < x.from - 3 * HOUR && y.until > x.from - 7 * HOUR);
      const s = pickShift(['day'], r, offDuty);
      const c = byId.get(s.clinicianId)!;
      const night = s.from - 7 * HOUR + r.int(60, 180) * MINUTE; // 01:00-03:00 of the shift's day
      const seen = r.sample(admittedAt(s, night, night + 2 * HOUR), r.int(3, 5)).map((a) => a.patientId);
      seen.forEach((p, i) => builder.chartOpen(night + i * r.int(3, 8) * MINUTE, c, c.devices[0]!, p, r, 'TREAT', 'online'));
      quiet(c.id, night, night + 45 * MINUTE);
      add('after-hours', n, c, seen, night, night + 45 * MINUTE, 'opened ward charts at night off duty and not on call', ['many-charts-no-charting']);
    }
    // Same surname or address: a relative (rare surname, or a partner at the clinician's home) admitted to the ward.
    {
      const r = rnd.fork(`relative-${n}`);
      const s = pickShift(['day'], r, (x) => !world.commonSurnames.has(byId.get(x.clinicianId)!.family));
      const c = byId.get(s.clinicianId)!;
      const byAddress = n % 2 === 1;
      const rel = dressReserved(world, r, byAddress ? { address: { ...c.home } } : { family: c.family });
      const from = s.from - r.int(2, 20) * HOUR;
      const until = s.until + r.int(24, 72) * HOUR;
      admitToWard(world, rel.id, c.ward, from, until);
      const opens = r.int(2, 4);
      const at = s.from + r.int(60, 8 * 60) * MINUTE;
      for (let i = 0; i < opens; i++) builder.chartOpen(at + i * r.int(20, 60) * MINUTE, c, c.devices[0]!, rel.id, r);
      add('same-surname-or-address', n, c, [rel.id], at, at + opens * 60 * MINUTE, byAddress ? 'opened the chart of someone living at their address' : 'opened the chart of a relative (same rare surname)');
    }
    // VIP or staff patient admitted to the ward, opened without being in their care.
    {
      const r = rnd.fork(`vip-${n}`);
      const s = pickShift(['day', 'night'], r);
      const c = byId.get(s.clinicianId)!;
      const flag = n % 2 === 0 ? 'vip' : 'staff';
      const colleague = world.clinicians.find((x) => x.ward !== c.ward && x.id !== bigPanel.id)!;
      const p = dressReserved(world, r, flag === 'staff' ? { family: colleague.family === c.family ? 'Quillane' : colleague.family, flags: ['staff'] } : { flags: ['vip'] });
      admitToWard(world, p.id, c.ward, s.from - r.int(2, 30) * HOUR, s.until + r.int(12, 60) * HOUR);
      const at = s.from + r.int(60, 9 * 60) * MINUTE;
      builder.chartOpen(at, c, c.devices[0]!, p.id, r);
      if (r.chance(0.5)) builder.chartOpen(at + r.int(10, 90) * MINUTE, c, c.devices[0]!, p.id, r);
      add('vip-or-staff', n, c, [p.id], at, at + 91 * MINUTE, `opened the chart of a ${flag === 'vip' ? 'VIP' : 'staff member as'} patient`);
    }
    // Browsing: searches then many charts opened in under an hour, nothing charted.
    {
      const r = rnd.fork(`browsing-${n}`);
      const s = pickShift(['day'], r);
      const c = byId.get(s.clinicianId)!;
      const at = s.from + r.int(2 * 60, 8 * 60) * MINUTE;
      const admitted = admittedAt(s, at, at + HOUR);
      const opened = r.sample(admitted, Math.min(admitted.length, r.int(18, 24)));
      const patients = new Map(world.patients.map((p) => [p.id, p]));
      let t = at;
      opened.forEach((a, i) => {
        if (i % 6 === 0) {
          const family = patients.get(a.patientId)!.family;
          builder.search(t, c, c.devices[0]!, family, admitted.filter((x) => patients.get(x.patientId)!.family === family).map((x) => x.patientId));
          t += MINUTE;
        }
        builder.chartOpen(t, c, c.devices[0]!, a.patientId, r);
        t += r.int(60, 150) * 1000;
      });
      quiet(c.id, at, t);
      add('many-charts-no-charting', n, c, opened.map((a) => a.patientId), at, t, `searched and opened ${opened.length} charts in ${Math.round((t - at) / MINUTE)} minutes without charting`, ['volume-spike']);
    }
    // Offline read burst: the laptop off the network, 25-35 charts read in about 25 minutes.
    {
      const r = rnd.fork(`offline-${n}`);
      const s = pickShift(['day', 'night'], r);
      const c = byId.get(s.clinicianId)!;
      const at = s.from + r.int(2 * 60, 8 * 60) * MINUTE;
      const laptop = c.devices[0]!;
      const stretch = { from: at - 5 * MINUTE, until: at + 35 * MINUTE };
      offline.set(laptop, [...(offline.get(laptop) ?? []).filter((o) => o.until < stretch.from - HOUR || o.from > stretch.until + HOUR), stretch]);
      const admitted = admittedAt(s, at, at + HOUR);
      const read = r.sample(admitted, Math.min(admitted.length, r.int(25, 35)));
      read.forEach((a, i) => builder.chartOpen(at + Math.floor((i * 25 * MINUTE) / read.length), c, laptop, a.patientId, r, 'TREAT', 'offline'));
      quiet(c.id, stretch.from, stretch.until);
      add('offline-burst', n, c, read.map((a) => a.patientId), at, at + 25 * MINUTE, `read ${read.length} charts offline in 25 minutes`, ['many-charts-no-charting', 'volume-spike']);
    }
  }
  // Scenario patients stay out of every ordinary access.
  const scenarioPatients = new Set(world.admissions.filter((a) => a.scenario).map((a) => a.patientId));
  for (const c of world.clinicians) for (const p of scenarioPatients) exclusions.untouched.add(`${c.id}|${p}`);
  return { truth: { cases, nearMisses }, grants, exclusions, bigPanelClinicianId: bigPanel.id };
}
