/**
 * Runs the unusual-access rules: refreshes the patients' comparison keys,
 * takes the audit entries not yet seen into the access facts, evaluates
 * every rule over the span of time the new entries cover (or over
 * everything, `full`), and stores what they find as flags (deduplicated).
 * Run by `npm run server -- monitor-run` and periodically inside `serve`
 * (policy runEveryMinutes). What a run judges is capped: facts dated more
 * than JUDGED_DAYS before the run's clock, or over a day after it, are taken
 * but never judged (counted in `outsideSpan`), so one entry dated years back
 * or ahead can neither make a run judge years nor push real entries out of
 * its span; entries whose time cannot be read are skipped and counted
 * (`skipped`). Never deletes a flag; a flag found again with more evidence grows (and reopens, ./flags.ts).
 */
import { sql } from 'kysely';
import type { PrivacyRule } from '../../shared/privacy-api';
import type { Db } from '../database';
import { systemClock, type Clock } from '../clock';
import { ingestAccessFacts } from './access-facts';
import { raiseFlags } from './flags';
import { readMonitorPolicy } from './monitor-policy';
import { refreshPatientKeys } from './patient-keys';
import { RULES, localTimeFor, type RuleSpan } from './rules';

const DAY = 86_400;
/** How far back from the run's clock a fact is still judged. */
export const JUDGED_DAYS = 400;

export interface MonitorRunReport {
  /** Audit entries taken into the access facts by this run. */
  ingested: number;
  /** Of those, how many lie outside the judged window (older than JUDGED_DAYS, or over a day in the future). */
  outsideSpan: number;
  /** Ledger entries left out because their time or fields cannot be read. */
  skipped: number;
  /** The span judged (epoch seconds), or null when there was nothing new. */
  span: RuleSpan | null;
  /** Flags found per rule (including ones already raised) and how many were new. */
  found: Record<PrivacyRule, number>;
  raised: number;
  ms: number;
}

export async function runMonitor(db: Db, opts: { clock?: Clock; full?: boolean } = {}): Promise<MonitorRunReport> {
  const clock = opts.clock ?? systemClock;
  const started = performance.now();
  const policy = await readMonitorPolicy(db);
  await refreshPatientKeys(db);
  const nowEpoch = Math.floor(clock().getTime() / 1000);
  const window = { notBefore: nowEpoch - JUDGED_DAYS * DAY, notAfter: nowEpoch + DAY };
  const ingested = await ingestAccessFacts(db, window);
  let span: RuleSpan | null = null;
  if (opts.full) {
    const r = await sql<{ lo: string | number | null; hi: string | number | null }>`select min(at_epoch) as lo, max(at_epoch) as hi from privacy_access_facts
      where at_epoch >= ${window.notBefore} and at_epoch <= ${window.notAfter}`.execute(db);
    const row = r.rows[0];
    if (row?.lo != null && row.hi != null) span = { fromEpoch: Number(row.lo), toEpoch: Number(row.hi) };
  } else if (ingested.fromEpoch !== null && ingested.toEpoch !== null) {
    // From the start of the (UTC) day before the earliest new entry: day- and window-based rules see whole groups.
    span = { fromEpoch: Math.floor(ingested.fromEpoch / DAY) * DAY - DAY, toEpoch: ingested.toEpoch };
  }
  const found = Object.fromEntries(RULES.map(([id]) => [id, 0])) as Record<PrivacyRule, number>;
  let raised = 0;
  if (span) {
    const local = localTimeFor(policy, span);
    for (const [id, rule] of RULES) {
      const flags = await rule({ db, policy, span, local });
      found[id] = flags.length;
      raised += await raiseFlags(db, flags, clock);
    }
  }
  return { ingested: ingested.count, outsideSpan: ingested.outside, skipped: ingested.skipped, span, found, raised, ms: Math.round(performance.now() - started) };
}
