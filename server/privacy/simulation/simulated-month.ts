/**
 * One simulated month of audit traffic, whole: the world (./simulated-world),
 * the injected scenarios and near-misses (./snooping-scenarios), the
 * ordinary traffic around them (./simulated-traffic), in time order, with
 * the ground truth. Deterministic from the world's seed. Pure data: store
 * it with ./ledger-writer.
 */
import type { GroundTruth, NearMiss } from './ground-truth';
import { SeededRandom } from './seeded-random';
import { planScenarios, type ScenarioOptions, type SimGrant } from './snooping-scenarios';
import { EntryBuilder, offlineStretches, ordinaryTraffic, type SimEntry } from './simulated-traffic';
import { MINUTE, buildWorld, type World, type WorldOptions } from './simulated-world';

export interface SimulatedMonth {
  world: World;
  /** Every entry, device and backend, in time order. */
  entries: SimEntry[];
  truth: GroundTruth;
  grants: SimGrant[];
}

export interface MonthOptions extends WorldOptions {
  /** Injected cases per rule family; 0: a month with no snooping at all (every flag is a false positive). */
  casesPerFamily: number;
}

export function simulateMonth(options: MonthOptions): SimulatedMonth {
  const world = buildWorld(options);
  const rnd = new SeededRandom(options.seed).fork('traffic');
  const offline = offlineStretches(world, rnd.fork('offline'));
  const ordinaryOffline = new Map([...offline].map(([d, list]) => [d, [...list]]));
  const builder = new EntryBuilder(offline);
  const scenarioOptions: ScenarioOptions = { casesPerFamily: options.casesPerFamily, firstDay: Math.min(10, Math.floor(options.days / 3)) };
  const plan =
    options.casesPerFamily > 0
      ? planScenarios(world, rnd.fork('scenarios'), builder, offline, scenarioOptions)
      : { truth: { cases: [], nearMisses: [] as NearMiss[] }, grants: [], exclusions: { quiet: [], untouched: new Set<string>() } };
  const { onCallAccesses } = ordinaryTraffic(world, rnd.fork('ordinary'), builder, plan.exclusions);
  const truth = plan.truth;
  const nearMisses: NearMiss[] = truth.nearMisses;
  onCallAccesses.forEach((a, i) => nearMisses.push({ id: `near-on-call-${i + 1}`, rule: 'after-hours', clinicianId: a.clinicianId, patientIds: a.patientIds, from: a.from, until: a.until, what: 'an on-call clinician opened a chart at night (inside policy)' }));

  // Ordinary offline stretches (ordinary reading pace): near-misses of the offline-burst rule.
  const deviceOwner = new Map(world.clinicians.flatMap((c) => c.devices.map((d) => [d, c.id] as const)));
  let k = 0;
  for (const [device, list] of offline) {
    for (const o of list) {
      if (!(ordinaryOffline.get(device) ?? []).some((x) => x.from === o.from)) continue;
      if (!builder.entries.some((e) => e.deviceId === device && e.network === 'offline' && e.at >= o.from && e.at < o.until)) continue;
      nearMisses.push({ id: `near-offline-${++k}`, rule: 'offline-burst', clinicianId: deviceOwner.get(device)!, patientIds: [], from: o.from, until: o.until, what: 'an ordinary offline stretch at the usual reading pace' });
    }
  }

  // Clinicians with a common surname treating patients who share it (the surname alone says nothing).
  const patientById = new Map(world.patients.map((p) => [p.id, p]));
  const clinicianById = new Map(world.clinicians.map((c) => [c.id, c]));
  const seenPairs = new Set<string>();
  for (const e of builder.entries) {
    if (e.source !== 'device' || e.action !== 'R' || e.patientId === null) continue;
    const c = clinicianById.get(e.clinicianId)!;
    const p = patientById.get(e.patientId)!;
    if (p.family !== c.family || !world.commonSurnames.has(c.family)) continue;
    const pair = `${c.id}|${p.id}`;
    if (seenPairs.has(pair)) continue;
    seenPairs.add(pair);
    nearMisses.push({ id: `near-common-surname-${seenPairs.size}`, rule: 'same-surname-or-address', clinicianId: c.id, patientIds: [p.id], from: e.at, until: e.at + MINUTE, what: `a clinician named ${c.family} treating a patient named ${p.family} (a common surname)` });
  }

  const entries = builder.entries.sort((a, b) => a.at - b.at || (a.source === b.source ? 0 : a.source === 'backend' ? -1 : 1));
  return { world, entries, truth, grants: plan.grants };
}
