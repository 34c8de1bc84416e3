/**
 * Benchmark of unusual-access monitoring (issue 13) over a simulated month
 * on PostgreSQL: generates the month (server/privacy/simulation: 200
 * clinicians, 20,000 patients, 20 wards, 30 days, 12 injected cases per
 * rule; `--quick`: 50 clinicians, 5,000 patients, 5 wards, 30 days, 10 per
 * rule), loads it into the backend's real ledger tables, runs the monitor
 * once (ingesting the access facts, keying the patients, evaluating every
 * rule, storing the flags) and then re-evaluates every rule over the whole
 * month a few times (`full`; the flags are already stored, so this is the
 * rules' own time), and scores the flags against the ground truth:
 * precision and recall per rule and overall (targets: recall >= 0.9,
 * precision >= 0.8 overall; evaluation < 10 s). Figures only: never
 * imported by the app, the backend or the tests.
 */
import { sql } from 'kysely';
import { migrate, openDatabase } from '../server/database';
import { runMonitor } from '../server/privacy/monitor-runner';
import { RULE_FAMILIES } from '../server/privacy/simulation/ground-truth';
import { scoreFlags, storedFlags } from '../server/privacy/simulation/detection-score';
import { writeSimulatedMonth } from '../server/privacy/simulation/ledger-writer';
import { simulateMonth, type MonthOptions } from '../server/privacy/simulation/simulated-month';
import { FULL_MONTH } from '../server/privacy/simulation/simulated-world';
import { freshPostgresDatabase } from '../test/support/postgres';
import { median, round } from './bench-stats';

const QUICK_MONTH: MonthOptions = { ...FULL_MONTH, clinicians: 50, patients: 5_000, wards: 5, bedsPerWard: 40, casesPerFamily: 10 };
const WHOLE_MONTH: MonthOptions = { ...FULL_MONTH, casesPerFamily: 12 };

export async function runPrivacyBench(quick: boolean): Promise<unknown> {
  const options = quick ? QUICK_MONTH : WHOLE_MONTH;
  const reevaluations = Number(process.env.BENCH_REPETITIONS ?? (quick ? 2 : 3));
  const t0 = performance.now();
  const month = simulateMonth(options);
  const generateS = (performance.now() - t0) / 1000;
  const pg = await freshPostgresDatabase();
  const { db } = openDatabase({ databaseUrl: pg.url, dataDir: '' });
  try {
    await migrate(db);
    const loaded = await writeSimulatedMonth(db, month);
    await sql`analyze`.execute(db);
    const clock = () => new Date(month.world.end);
    const first = await runMonitor(db, { clock });
    const evaluations: number[] = [];
    for (let i = 0; i < reevaluations; i++) evaluations.push((await runMonitor(db, { clock, full: true })).ms / 1000);
    const score = scoreFlags(await storedFlags(db), month.truth);
    const byRule = Object.fromEntries(
      RULE_FAMILIES.map((r) => {
        const s = score.byRule[r];
        return [r, { cases: s.cases, detected: s.detected, recall: s.recall, flags: s.flags, true_positives: s.truePositives, false_positives: s.falsePositives, neutral: s.neutral, precision: s.precision, near_misses: s.nearMisses, near_misses_flagged: s.nearMissesFlagged }];
      }),
    );
    const evaluationMedian = median(evaluations);
    const result = {
      engine: 'postgres',
      world: { clinicians: options.clinicians, patients: options.patients, wards: options.wards, beds_per_ward: options.bedsPerWard, days: options.days, seed: options.seed, cases_per_rule: options.casesPerFamily },
      rows: { device_entries: loaded.deviceEntries, backend_entries: loaded.backendEntries, assignment_periods: loaded.assignmentPeriods, devices: loaded.devices },
      generate_s: round(generateS, 2),
      load_s: round(loaded.ms / 1000, 2),
      first_run: { s: round(first.ms / 1000, 2), ingested: first.ingested, raised: first.raised },
      evaluation: { runs_s: evaluations.map((s) => round(s, 2)), median_s: evaluationMedian, target_s: 10, within_target: evaluationMedian < 10 },
      by_rule: byRule,
      overall: score.overall,
      targets: {
        recall_each_rule_at_least_0_9: RULE_FAMILIES.every((r) => (score.byRule[r].recall ?? 0) >= 0.9),
        precision_overall_at_least_0_8: (score.overall.precision ?? 0) >= 0.8,
        evaluation_under_10_s: evaluationMedian < 10,
      },
      missed: score.missed.map((c) => c.id),
      near_misses_flagged: score.nearMissesFlagged.length,
    };
    const line = (r: string) => {
      const s = score.byRule[r as keyof typeof score.byRule];
      return `  ${r.padEnd(26)} recall ${String(s.recall).padEnd(6)} precision ${String(s.precision).padEnd(6)} (${s.detected}/${s.cases} found, ${s.truePositives} true, ${s.falsePositives} false, ${s.neutral} neutral flags)`;
    };
    process.stderr.write(
      [
        `privacy monitoring (${quick ? 'quick' : 'full'} month on PostgreSQL): ${loaded.deviceEntries + loaded.backendEntries} entries; generate ${result.generate_s} s, load ${result.load_s} s, first run ${result.first_run.s} s, rules over the month median ${evaluationMedian} s (${result.evaluation.runs_s.join(', ')})`,
        ...RULE_FAMILIES.map(line),
        `  overall recall ${score.overall.recall} precision ${score.overall.precision}`,
        '',
      ].join('\n'),
    );
    return result;
  } finally {
    await db.destroy();
    await pg.drop();
  }
}
