/**
 * The simulated month of audit traffic (server/privacy/simulation) against
 * the real monitoring rules, on SQLite and PostgreSQL: the month is stored
 * exactly as the backend stores traffic (every device chain and the
 * backend's own chain verify with the backend's verifiers; the backend's
 * upload checks accept every entry and mark only the injected ones; the
 * roster of every shift and on-call night is imported as `import-rota` does), it is the
 * same month from the same seed, every rule finds its injected snooping
 * (recall >= 0.9 per rule, precision >= 0.8 overall, matching defined in
 * detection-score.ts), the near-misses stay quiet, and a month without any
 * snooping raises no flag at all. A scaled-down world (24 clinicians, 1,500
 * patients, 28 days, 10 cases per rule); the full month is the benchmark's.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Db } from '../server/database';
import { verifyAllDeviceChains } from '../server/audit/device-chain-verify';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import { runMonitor } from '../server/privacy/monitor-runner';
import { RULE_FAMILIES } from '../server/privacy/simulation/ground-truth';
import { scoreFlags, storedFlags, type DetectionScore } from '../server/privacy/simulation/detection-score';
import { writeSimulatedMonth, type LoadReport } from '../server/privacy/simulation/ledger-writer';
import { simulateMonth, type SimulatedMonth } from '../server/privacy/simulation/simulated-month';
import { SMALL_MONTH } from '../server/privacy/simulation/simulated-world';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';

const CASES_PER_RULE = 10;
const month = simulateMonth({ ...SMALL_MONTH, casesPerFamily: CASES_PER_RULE });
const quietMonth = simulateMonth({ ...SMALL_MONTH, casesPerFamily: 0 });
const iso = (t: number) => new Date(t).toISOString();

function fingerprint(m: SimulatedMonth): string {
  return createHash('sha256').update(JSON.stringify([m.entries, m.truth, m.grants, m.world.periods])).digest('hex');
}

function scoreLines(score: DetectionScore): string {
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  return [
    ...RULE_FAMILIES.map((r) => { const s = score.byRule[r]; return `${r}: recall ${f(s.recall)} (${s.detected}/${s.cases}) precision ${f(s.precision)} (${s.truePositives} true, ${s.falsePositives} false, ${s.neutral} neutral) near-misses flagged ${s.nearMissesFlagged}/${s.nearMisses}`; }),
    `overall: recall ${f(score.overall.recall)} (${score.overall.detected}/${score.overall.cases}) precision ${f(score.overall.precision)} (${score.overall.truePositives} true, ${score.overall.falsePositives} false, ${score.overall.neutral} neutral)`,
  ].join('\n');
}

function explain(score: DetectionScore): string {
  return [
    ...score.missed.map((c) => `missed ${c.id}: ${c.clinicianId} ${iso(c.from)} ${c.what}`),
    ...score.falsePositives.slice(0, 20).map((f) => `false positive ${f.rule}: ${f.clinicianId} ${f.patientId ?? ''} ${iso(f.from)}..${iso(f.to)}`),
    ...score.nearMissesFlagged.slice(0, 10).map((n) => `near-miss flagged ${n.id}: ${n.clinicianId} ${iso(n.from)} ${n.what}`),
  ].join('\n');
}

test('the simulated month is the same month from the same seed, and another from another seed', () => {
  assert.equal(fingerprint(simulateMonth({ ...SMALL_MONTH, casesPerFamily: CASES_PER_RULE })), fingerprint(month));
  assert.notEqual(fingerprint(simulateMonth({ ...SMALL_MONTH, seed: SMALL_MONTH.seed + 1, casesPerFamily: CASES_PER_RULE })), fingerprint(month));
});

test('the ground truth holds ten injected cases of every rule, each with its own entries in the month', () => {
  for (const rule of RULE_FAMILIES) assert.equal(month.truth.cases.filter((c) => c.rule === rule).length, CASES_PER_RULE, rule);
  for (const c of month.truth.cases) {
    const own = month.entries.filter((e) => e.clinicianId === c.clinicianId && e.at >= c.from && e.at <= c.until && e.patientId !== null && c.patientIds.includes(e.patientId));
    assert.ok(own.length > 0, `${c.id} has entries`);
  }
  assert.ok(month.truth.nearMisses.some((n) => n.rule === 'volume-spike'), 'a big-panel near-miss');
  assert.ok(month.truth.nearMisses.some((n) => n.rule === 'after-hours'), 'on-call near-misses');
  assert.ok(month.truth.nearMisses.some((n) => n.rule === 'same-surname-or-address'), 'common-surname near-misses');
  assert.ok(month.truth.nearMisses.some((n) => n.rule === 'offline-burst'), 'ordinary offline stretches');
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`privacy monitoring over a simulated month, backend on ${engine}`, () => {
    const dir = scratchDir(`privacy-simulation-${engine}`);
    let db: Db;
    let close: () => Promise<void>;
    let loaded: LoadReport;
    let score: DetectionScore;

    before(async () => {
      ({ db, close } = await openBackendDb(engine, dir.path));
      loaded = await writeSimulatedMonth(db, month);
      await runMonitor(db, { clock: () => new Date(month.world.end) });
      score = scoreFlags(await storedFlags(db), month.truth);
    });
    after(async () => {
      await close();
      dir.remove();
    });

    test('the month is stored as the backend stores traffic: every device chain and the disclosure chain verify, the roster is imported', async () => {
      assert.equal(loaded.deviceEntries + loaded.backendEntries, month.entries.length);
      const rota = await db.selectFrom('privacy_rota').select(['kind', (eb) => eb.fn.countAll<number | string>().as('n')]).groupBy('kind').execute();
      const rostered = Object.fromEntries(rota.map((r) => [r.kind, Number(r.n)]));
      assert.deepEqual(rostered, { shift: month.world.shifts.filter((s) => s.kind !== 'on-call').length, 'on-call': month.world.shifts.filter((s) => s.kind === 'on-call').length });
      assert.equal(loaded.rotaPeriods, month.world.shifts.length);
      const devices = await verifyAllDeviceChains(db);
      assert.equal(devices.devices, loaded.devices);
      assert.deepEqual(devices.broken, []);
      const server = await verifyDisclosureChain(db);
      assert.ok(server.ok, JSON.stringify(server.firstBad));
      assert.equal(server.entries, loaded.backendEntries);
    });

    test("the backend's own upload checks accept every entry; their marks are the injected ones (reads after the stay, ETREAT only inside grants)", () => {
      const emergency = month.entries.filter((e) => e.source === 'device' && e.purpose === 'ETREAT').length;
      assert.ok(emergency > 0);
      assert.equal(loaded.emergencyWithoutGrant, 0);
      assert.equal(loaded.notAssigned, 0);
      const unassigned = month.truth.cases.filter((c) => c.rule === 'unassigned-access');
      const readsAfterStay = month.entries.filter((e) => e.source === 'device' && unassigned.some((c) => c.clinicianId === e.clinicianId && e.patientId !== null && c.patientIds.includes(e.patientId) && e.at >= c.from && e.at <= c.until));
      assert.equal(loaded.afterAssignment, readsAfterStay.length);
    });

    test('every rule finds its injected snooping: recall >= 0.9 per rule, precision >= 0.8 overall', (t) => {
      for (const line of scoreLines(score).split('\n')) t.diagnostic(`${engine} ${line}`);
      for (const rule of RULE_FAMILIES) {
        const s = score.byRule[rule];
        assert.ok(s.recall !== null && s.recall >= 0.9, `${rule}: recall ${s.recall} (${s.detected}/${s.cases})\n${explain(score)}`);
      }
      assert.ok(score.overall.precision !== null && score.overall.precision >= 0.8, `overall precision ${score.overall.precision}\n${explain(score)}`);
    });

    test('the near-misses stay quiet: a big panel every day, on-call nights, common surnames, ordinary offline stretches', () => {
      assert.deepEqual(score.nearMissesFlagged.map((n) => n.id), [], explain(score));
    });
  });
}

describe('a month without any snooping, backend on sqlite', () => {
  const dir = scratchDir('privacy-simulation-quiet');
  let db: Db;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await openBackendDb('sqlite', dir.path));
    await writeSimulatedMonth(db, quietMonth);
  });
  after(async () => {
    await close();
    dir.remove();
  });

  test('raises no flag at all', async () => {
    await runMonitor(db, { clock: () => new Date(quietMonth.world.end) });
    const flags = await storedFlags(db);
    assert.deepEqual(flags.map((f) => `${f.rule} ${f.clinicianId} ${f.patientId ?? ''} ${iso(f.from)}`), []);
  });
});
