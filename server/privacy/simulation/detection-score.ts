/**
 * Precision and recall of the monitoring rules against the simulation's
 * ground truth.
 *
 * A flag MATCHES an injected case when all hold: the same clinician; the
 * flag's window (evidence.numbers.from..to, else its `at`) overlaps the
 * case's window [from, until] (both ends included); and, when the flag
 * names one patient, that patient is one of the case's. It is a TRUE
 * POSITIVE when it matches a case of its own rule; NEUTRAL when it matches
 * only cases that list its rule as one they inherently also trip
 * (`alsoAcceptable`: 30 offline reads without charting are also "many charts
 * without charting"); otherwise a FALSE POSITIVE (and, when it matches a
 * near-miss of its rule, that near-miss counts as flagged). A case is
 * DETECTED when at least one flag of its rule matches it. Per rule:
 * recall = detected / cases, precision = true / (true + false) flags; overall
 * figures are micro-averaged (summed over rules). Pure: reads flags, never
 * writes.
 */
import type { Db } from '../../database';
import { RULE_FAMILIES, type GroundTruth, type InjectedCase, type NearMiss, type RuleFamily } from './ground-truth';

/** The parts of a stored flag the scoring reads (shared/privacy-api.ts PrivacyFlag). */
export interface ScoredFlag {
  rule: string;
  clinicianId: string;
  patientId: string | null;
  from: number;
  to: number;
}

export interface RuleScore {
  cases: number;
  detected: number;
  flags: number;
  truePositives: number;
  falsePositives: number;
  neutral: number;
  recall: number | null;
  precision: number | null;
  nearMisses: number;
  nearMissesFlagged: number;
}

export interface DetectionScore {
  byRule: Record<RuleFamily, RuleScore>;
  overall: { cases: number; detected: number; flags: number; truePositives: number; falsePositives: number; neutral: number; recall: number | null; precision: number | null };
  missed: InjectedCase[];
  falsePositives: ScoredFlag[];
  nearMissesFlagged: NearMiss[];
}

const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);

function overlaps(f: ScoredFlag, w: { clinicianId: string; patientIds: string[]; from: number; until: number }): boolean {
  if (f.clinicianId !== w.clinicianId) return false;
  if (f.from > w.until || f.to < w.from) return false;
  return f.patientId === null || w.patientIds.length === 0 || w.patientIds.includes(f.patientId);
}

export function scoreFlags(flags: ScoredFlag[], truth: GroundTruth): DetectionScore {
  const byRule = Object.fromEntries(
    RULE_FAMILIES.map((r) => [r, { cases: 0, detected: 0, flags: 0, truePositives: 0, falsePositives: 0, neutral: 0, recall: null, precision: null, nearMisses: 0, nearMissesFlagged: 0 } satisfies RuleScore]),
  ) as Record<RuleFamily, RuleScore>;
  const detected = new Set<string>();
  const nearFlagged = new Set<string>();
  const falsePositives: ScoredFlag[] = [];
  for (const c of truth.cases) byRule[c.rule].cases++;
  for (const n of truth.nearMisses) byRule[n.rule].nearMisses++;
  for (const f of flags) {
    const score = byRule[f.rule as RuleFamily];
    if (!score) throw new Error(`a flag of an unknown rule: ${f.rule}`);
    score.flags++;
    const matching = truth.cases.filter((c) => overlaps(f, c));
    const own = matching.filter((c) => c.rule === f.rule);
    if (own.length > 0) {
      score.truePositives++;
      for (const c of own) detected.add(c.id);
    } else if (matching.some((c) => c.alsoAcceptable.includes(f.rule as RuleFamily))) {
      score.neutral++;
    } else {
      score.falsePositives++;
      falsePositives.push(f);
      for (const n of truth.nearMisses) if (n.rule === f.rule && overlaps(f, n)) nearFlagged.add(n.id);
    }
  }
  for (const c of truth.cases) if (detected.has(c.id)) byRule[c.rule].detected++;
  for (const n of truth.nearMisses) if (nearFlagged.has(n.id)) byRule[n.rule].nearMissesFlagged++;
  for (const s of Object.values(byRule)) {
    s.recall = ratio(s.detected, s.cases);
    s.precision = ratio(s.truePositives, s.truePositives + s.falsePositives);
  }
  const sum = (k: keyof RuleScore) => Object.values(byRule).reduce((a, s) => a + (s[k] as number), 0);
  const overall = {
    cases: sum('cases'),
    detected: sum('detected'),
    flags: sum('flags'),
    truePositives: sum('truePositives'),
    falsePositives: sum('falsePositives'),
    neutral: sum('neutral'),
    recall: ratio(sum('detected'), sum('cases')),
    precision: ratio(sum('truePositives'), sum('truePositives') + sum('falsePositives')),
  };
  return {
    byRule,
    overall,
    missed: truth.cases.filter((c) => !detected.has(c.id)),
    falsePositives,
    nearMissesFlagged: truth.nearMisses.filter((n) => nearFlagged.has(n.id)),
  };
}

/** Every stored flag (privacy_flags), in the scoring's shape. */
export async function storedFlags(db: Db): Promise<ScoredFlag[]> {
  const rows = await db.selectFrom('privacy_flags').select(['rule', 'clinician_id', 'patient_id', 'evidence', 'activity_at']).execute();
  return rows.map((r) => {
    const numbers = (JSON.parse(r.evidence) as { numbers?: Record<string, unknown> }).numbers ?? {};
    const at = Date.parse(r.activity_at);
    const from = typeof numbers.from === 'string' ? Date.parse(numbers.from) : at;
    const to = typeof numbers.to === 'string' ? Date.parse(numbers.to) : at;
    return { rule: r.rule, clinicianId: r.clinician_id, patientId: r.patient_id, from, to };
  });
}
