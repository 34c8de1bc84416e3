/**
 * The unusual-access rules (issue 13 item 4, a–h), each a grouped query over
 * the access facts (./access-facts.ts) for a span of time, answering the
 * flags it finds: the rule id, one sentence saying why, and the evidence
 * (references to the audit entries, the numbers that made it fire, and the
 * window it covers). The database does the grouping; JS only sees groups
 * (and the few rows a flag cites). Rules b–h judge what clinicians did on
 * their desktops (device entries); the backend's own disclosures are read
 * for break-the-glass only. Never put search text or record content in a flag.
 */
import { sql, type RawBuilder } from 'kysely';
import { EVIDENCE_REFS_MAX, type EvidenceRef, type PrivacyRule } from '../../shared/privacy-api';
import type { Db } from '../database';
import { EMERGENCY_WITHOUT_GRANT_EXTENSION } from '../audit/audit-ledger';
import { breakGlassDedupeKey, type RaiseFlag } from './flags';
import { localSecondsSql } from './local-time';
import { minuteOfDay, type MonitorPolicy } from './monitor-policy';

const DAY = 86_400;
/** As a literal: GROUP BY must see the same expression as SELECT (a parameter would differ). */
const DAYS = sql.lit(DAY);

export interface RuleSpan {
  /** Epoch seconds, inclusive: the access facts judged. History outside it may be read (baselines). */
  fromEpoch: number;
  toEpoch: number;
}

export interface RuleContext {
  db: Db;
  policy: MonitorPolicy;
  span: RuleSpan;
  /** SQL: local seconds (the policy's zone) of f.at_epoch, valid around the span and its history. */
  local: RawBuilder<number>;
}

export type Rule = (ctx: RuleContext) => Promise<RaiseFlag[]>;

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();
const localDate = (localDay: number) => new Date(localDay * DAY * 1000).toISOString().slice(0, 10);

/** A clinician's own access to a patient's record on their desktop (not a failed attempt). */
const DEVICE_ACCESS = sql`f.source = 'device' and f.patient_id is not null and f.outcome = '0'`;

interface FactRow {
  source: string;
  device_id: string;
  seq: number | string;
  patient_id: string | null;
  at_epoch: number | string;
}

function refOf(r: FactRow): EvidenceRef {
  return r.source === 'backend' ? { kind: 'backend', seq: Number(r.seq) } : { kind: 'device', deviceId: r.device_id, seq: Number(r.seq) };
}

/** The entries a flag cites: the clinician's facts in [from, to], optionally of one patient and matching `extra`. */
async function citedFacts(ctx: RuleContext, q: { clinicianId: string; patientId?: string | null; fromEpoch: number; toEpoch: number; extra?: RawBuilder<unknown>; limit?: number }): Promise<FactRow[]> {
  const r = await sql<FactRow>`
    select f.source, f.device_id, f.seq, f.patient_id, f.at_epoch from privacy_access_facts f
    where f.clinician_id = ${q.clinicianId} and f.at_epoch >= ${q.fromEpoch} and f.at_epoch <= ${q.toEpoch}
      ${q.patientId ? sql`and f.patient_id = ${q.patientId}` : sql``}
      ${q.extra ? sql`and ${q.extra}` : sql``}
    order by f.at_epoch, f.source, f.device_id, f.seq
    limit ${q.limit ?? EVIDENCE_REFS_MAX}`.execute(ctx.db);
  return r.rows;
}

function evidence(refs: EvidenceRef[], refsTotal: number, numbers: Record<string, number | string | boolean>, fromEpoch: number, toEpoch: number) {
  return { refs: refs.slice(0, EVIDENCE_REFS_MAX), refsTotal, numbers: { from: iso(fromEpoch), to: iso(toEpoch), ...numbers } };
}

/** Groups of (clinician, patient, day) with their count and first/last time, for the per-patient rules. */
interface PairDay {
  clinician_id: string;
  patient_id: string;
  day: number | string;
  n: number | string;
  lo: number | string;
  hi: number | string;
}

async function pairDayFlags(ctx: RuleContext, rule: PrivacyRule, groups: PairDay[], extra: RawBuilder<unknown>, explain: (g: PairDay) => string, numbers: (g: PairDay) => Record<string, number | string | boolean>): Promise<RaiseFlag[]> {
  const flags: RaiseFlag[] = [];
  for (const g of groups) {
    const lo = Number(g.lo);
    const hi = Number(g.hi);
    const rows = await citedFacts(ctx, { clinicianId: g.clinician_id, patientId: g.patient_id, fromEpoch: lo, toEpoch: hi, extra });
    flags.push({
      rule,
      clinicianId: g.clinician_id,
      patientId: g.patient_id,
      explanation: explain(g),
      evidence: evidence(rows.map(refOf), Number(g.n), { entries: Number(g.n), day: localDate(Number(g.day)), ...numbers(g) }, lo, hi),
      dedupeKey: `${rule}:${g.clinician_id}:${g.patient_id}:${localDate(Number(g.day))}`,
      at: iso(lo),
    });
  }
  return flags;
}

/** a. Break-the-glass use: the grant entry and every entry made under it (purpose ETREAT), device or backend. */
export const breakGlassRule: Rule = async (ctx) => {
  const r = await sql<PairDay & { grants: number | string; claimed: number | string }>`
    select f.clinician_id, f.patient_id, f.at_epoch / ${DAYS} as day, count(*) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi,
           sum(case when f.subtype = 'break-glass' then 1 else 0 end) as grants,
           sum(case when f.source = 'device' and exists (select 1 from audit_entries a where a.device_id = f.device_id and a.seq = f.seq
                 and a.event like ${`%${EMERGENCY_WITHOUT_GRANT_EXTENSION}%`}) then 1 else 0 end) as claimed
    from privacy_access_facts f
    where f.patient_id is not null and (f.purpose = 'ETREAT' or f.subtype = 'break-glass')
      and f.at_epoch >= ${ctx.span.fromEpoch} and f.at_epoch <= ${ctx.span.toEpoch}
    group by f.clinician_id, f.patient_id, f.at_epoch / ${DAYS}`.execute(ctx.db);
  const flags: RaiseFlag[] = [];
  for (const g of r.rows) {
    const lo = Number(g.lo);
    const hi = Number(g.hi);
    const rows = await citedFacts(ctx, { clinicianId: g.clinician_id, patientId: g.patient_id, fromEpoch: lo, toEpoch: hi, extra: sql`(f.purpose = 'ETREAT' or f.subtype = 'break-glass')` });
    flags.push({
      rule: 'break-glass',
      clinicianId: g.clinician_id,
      patientId: g.patient_id,
      explanation:
        Number(g.claimed) > 0
          ? `The clinician claimed emergency access without a grant: ${Number(g.claimed)} of ${Number(g.n)} emergency-purpose audit entries on ${iso(lo).slice(0, 10)} (UTC) had no break-the-glass grant behind them.`
          : `The clinician reached this patient by breaking the glass (emergency access): ${Number(g.n)} audit entries under it on ${iso(lo).slice(0, 10)} (UTC).`,
      evidence: evidence(rows.map(refOf), Number(g.n), { entries: Number(g.n), grantEntries: Number(g.grants), withoutGrant: Number(g.claimed) }, lo, hi),
      // The same key as the flag the grant raises at once (server/glass): one finding, one flag.
      dedupeKey: breakGlassDedupeKey(g.clinician_id, g.patient_id, iso(lo)),
      at: iso(lo),
    });
  }
  return flags;
};

/** b. Access to a patient the clinician was not assigned to at that moment, outside a break-the-glass grant (server/glass) or ETREAT purpose, and outside consultations. */
export const unassignedAccessRule: Rule = async (ctx) => {
  const outside = sql`f.purpose <> 'ETREAT' and f.subtype not in ('break-glass', 'consult-start', 'consult-join', 'consult-code-confirmed', 'consult-end')
      and not exists (select 1 from assignment_periods p where p.clinician_id = f.clinician_id and p.patient_id = f.patient_id
                      and p.assigned_at <= f.recorded_at and (p.unassigned_at is null or p.unassigned_at > f.recorded_at))
      and not exists (select 1 from glass_grants g where g.clinician_id = f.clinician_id and g.patient_id = f.patient_id
                      and g.granted_at <= f.recorded_at and g.expires_at > f.recorded_at)`;
  const r = await sql<PairDay>`
    select f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS} as day, count(*) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi
    from privacy_access_facts f
    where ${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch} and f.at_epoch <= ${ctx.span.toEpoch} and ${outside}
    group by f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS}`.execute(ctx.db);
  return pairDayFlags(
    ctx,
    'unassigned-access',
    r.rows,
    sql`${DEVICE_ACCESS} and ${outside}`,
    (g) => `The clinician opened a patient they were not assigned to at the time, without breaking the glass (${Number(g.n)} audit entries that day).`,
    () => ({}),
  );
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** c. A day's distinct patients far above the clinician's own baseline (median and MAD of their other active days). */
export const volumeSpikeRule: Rule = async (ctx) => {
  const { historyDays, minHistoryDays, madMultiplier, minExcess } = ctx.policy.volume;
  const r = await sql<{ clinician_id: string; day: number | string; n: number | string; lo: number | string; hi: number | string }>`
    select f.clinician_id, ${ctx.local} / ${DAYS} as day, count(distinct f.patient_id) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi
    from privacy_access_facts f
    where ${DEVICE_ACCESS} and f.action = 'R'
      and f.at_epoch >= ${ctx.span.fromEpoch - (historyDays + 1) * DAY} and f.at_epoch <= ${ctx.span.toEpoch + (historyDays + 1) * DAY}
    group by f.clinician_id, ${ctx.local} / ${DAYS}`.execute(ctx.db);
  const byClinician = new Map<string, Array<{ day: number; n: number; lo: number; hi: number }>>();
  for (const row of r.rows) {
    const list = byClinician.get(row.clinician_id) ?? [];
    list.push({ day: Number(row.day), n: Number(row.n), lo: Number(row.lo), hi: Number(row.hi) });
    byClinician.set(row.clinician_id, list);
  }
  const flags: RaiseFlag[] = [];
  for (const [clinicianId, days] of byClinician) {
    for (const d of days) {
      if (d.hi < ctx.span.fromEpoch || d.lo > ctx.span.toEpoch) continue;
      const others = days.filter((o) => o.day !== d.day && Math.abs(o.day - d.day) <= historyDays).map((o) => o.n);
      if (others.length < minHistoryDays) continue;
      const med = median(others);
      const mad = median(others.map((v) => Math.abs(v - med)));
      const threshold = med + Math.max(madMultiplier * 1.4826 * mad, minExcess);
      if (d.n <= threshold) continue;
      const rows = await citedFacts(ctx, { clinicianId, fromEpoch: d.lo, toEpoch: d.hi, extra: sql`${DEVICE_ACCESS} and f.action = 'R'`, limit: 5000 });
      const firstPerPatient = new Map<string, FactRow>();
      for (const row of rows) if (!firstPerPatient.has(row.patient_id!)) firstPerPatient.set(row.patient_id!, row);
      flags.push({
        rule: 'volume-spike',
        clinicianId,
        patientId: null,
        explanation: `The clinician opened ${d.n} distinct patients on ${localDate(d.day)}, far above their usual ${med} a day (threshold ${Math.round(threshold * 10) / 10}).`,
        evidence: evidence([...firstPerPatient.values()].map(refOf), d.n, {
          day: localDate(d.day),
          today: d.n,
          median: med,
          mad,
          threshold: Math.round(threshold * 10) / 10,
          historyDays: others.length,
        }, d.lo, d.hi),
        dedupeKey: `volume-spike:${clinicianId}:${localDate(d.day)}`,
        at: iso(d.lo),
      });
    }
  }
  return flags;
};

/**
 * d. Access outside the working hours of policy and outside the clinician's own rostered shift or on-call period
 * (./rota.ts); for a clinician without a roster, also outside the hours their history shows they work (inferred shifts).
 */
export const afterHoursRule: Rule = async (ctx) => {
  const start = minuteOfDay(ctx.policy.workingHours.start);
  const end = minuteOfDay(ctx.policy.workingHours.end);
  const minute = sql`((${ctx.local} % ${DAYS}) / 60)`;
  const outsideHours = start <= end ? sql`(${minute} < ${start} or ${minute} >= ${end})` : sql`(${minute} < ${start} and ${minute} >= ${end})`;
  // Inside the clinician's own rostered shift or on-call period is within policy.
  const outside = sql`${outsideHours} and not exists (select 1 from privacy_rota r where r.clinician_id = f.clinician_id and r.starts_at <= f.recorded_at and r.ends_at > f.recorded_at)`;
  // Clinicians with a roster around the span are judged by it alone (no inferred shift hours).
  const rostered = new Set(
    (
      await sql<{ clinician_id: string }>`select distinct clinician_id from privacy_rota where ends_at >= ${iso(ctx.span.fromEpoch - ctx.policy.volume.historyDays * DAY)} and starts_at <= ${iso(ctx.span.toEpoch + DAY)}`.execute(ctx.db)
    ).rows.map((r) => r.clinician_id),
  );
  const { historyDays } = ctx.policy.volume;
  const { minDays, share } = ctx.policy.shifts;
  // The clinician's own hours: on how many local days they worked in each hour of day (and how many days at all).
  const profile = new Map<string, { days: number; hours: number[] }>();
  if (minDays > 0) {
    const hist = sql`${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch - historyDays * DAY} and f.at_epoch <= ${ctx.span.toEpoch + historyDays * DAY}`;
    const hours = await sql<{ clinician_id: string; hour: number | string; days: number | string }>`
      select f.clinician_id, (${ctx.local} % ${DAYS}) / 3600 as hour, count(distinct ${ctx.local} / ${DAYS}) as days
      from privacy_access_facts f where ${hist} group by f.clinician_id, (${ctx.local} % ${DAYS}) / 3600`.execute(ctx.db);
    const active = await sql<{ clinician_id: string; days: number | string }>`
      select f.clinician_id, count(distinct ${ctx.local} / ${DAYS}) as days from privacy_access_facts f where ${hist} group by f.clinician_id`.execute(ctx.db);
    for (const a of active.rows) profile.set(a.clinician_id, { days: Number(a.days), hours: new Array<number>(24).fill(0) });
    for (const h of hours.rows) profile.get(h.clinician_id)!.hours[Number(h.hour)] = Number(h.days);
  }
  const usualHours = (clinicianId: string): Set<number> => {
    const p = profile.get(clinicianId);
    const usual = new Set<number>();
    if (!p || rostered.has(clinicianId)) return usual;
    const need = Math.max(minDays, share * p.days);
    for (let h = 0; h < 24; h++) if (p.hours[(h + 23) % 24]! + p.hours[h]! + p.hours[(h + 1) % 24]! >= need) usual.add(h);
    return usual;
  };
  const r = await sql<{ clinician_id: string; day: number | string; hour: number | string; n: number | string; lo: number | string; hi: number | string }>`
    select f.clinician_id, ${ctx.local} / ${DAYS} as day, (${ctx.local} % ${DAYS}) / 3600 as hour, count(*) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi
    from privacy_access_facts f
    where ${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch} and f.at_epoch <= ${ctx.span.toEpoch} and ${outside}
    group by f.clinician_id, ${ctx.local} / ${DAYS}, (${ctx.local} % ${DAYS}) / 3600`.execute(ctx.db);
  const groups = new Map<string, { clinicianId: string; day: number; hours: number[]; n: number; lo: number; hi: number; usual: Set<number> }>();
  for (const row of r.rows) {
    const usual = usualHours(row.clinician_id);
    const hour = Number(row.hour);
    if (usual.has(hour)) continue;
    const key = `${row.clinician_id}\n${Number(row.day)}`;
    const g = groups.get(key) ?? { clinicianId: row.clinician_id, day: Number(row.day), hours: [], n: 0, lo: Number.POSITIVE_INFINITY, hi: 0, usual };
    g.hours.push(hour);
    g.n += Number(row.n);
    g.lo = Math.min(g.lo, Number(row.lo));
    g.hi = Math.max(g.hi, Number(row.hi));
    groups.set(key, g);
  }
  const flags: RaiseFlag[] = [];
  for (const g of groups.values()) {
    const hourList = g.hours.sort((a, b) => a - b);
    const inHours = sql`((${ctx.local} % ${DAYS}) / 3600) in (${sql.join(hourList.map((h) => sql.lit(h)))})`;
    const rows = await citedFacts(ctx, { clinicianId: g.clinicianId, fromEpoch: g.lo, toEpoch: g.hi, extra: sql`${DEVICE_ACCESS} and ${outside} and ${inHours}` });
    const patients = new Set(rows.map((x) => x.patient_id)).size;
    const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
    flags.push({
      rule: 'after-hours',
      clinicianId: g.clinicianId,
      patientId: null,
      explanation: `The clinician opened records outside working hours (${ctx.policy.workingHours.start}–${ctx.policy.workingHours.end} ${ctx.policy.timeZone}) on ${localDate(g.day)}, in hours that are not their usual shift hours.`,
      evidence: evidence(rows.map(refOf), g.n, {
        day: localDate(g.day),
        entries: g.n,
        patientsCited: patients,
        localHours: hourList.map(hh).join(', '),
        workingHours: `${ctx.policy.workingHours.start}-${ctx.policy.workingHours.end}`,
        timeZone: ctx.policy.timeZone,
        usualHours: [...g.usual].sort((a, b) => a - b).map(hh).join(', ') || 'none',
      }, g.lo, g.hi),
      dedupeKey: `after-hours:${g.clinicianId}:${localDate(g.day)}`,
      at: iso(g.lo),
    });
  }
  return flags;
};

/**
 * e. A patient who shares the clinician's surname or home address (staff directory vs the stored Patient), in a
 * chart read or write (not a search listing). A common surname (held by surnameMaxShare of the patients or more,
 * and by at least 3) alone raises nothing: Dr Smith treating Mr Smith is ordinary; a shared address always counts.
 */
export const sameSurnameOrAddressRule: Rule = async (ctx) => {
  const chart = sql`${DEVICE_ACCESS} and f.action in ('R', 'C', 'U', 'D') and f.subtype <> 'search-type'`;
  const r = await sql<PairDay & { kinds: string; kinds_hi: string }>`
    select f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS} as day, count(*) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi,
           min(s.kind) as kinds, max(s.kind) as kinds_hi
    from privacy_access_facts f
    join privacy_staff_keys s on s.clinician_id = f.clinician_id
    join privacy_patient_keys k on k.patient_id = f.patient_id and k.kind = s.kind and k.value = s.value
    where ${chart} and f.at_epoch >= ${ctx.span.fromEpoch} and f.at_epoch <= ${ctx.span.toEpoch} and s.kind in ('surname', 'address')
    group by f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS}`.execute(ctx.db);
  if (r.rows.length === 0) return [];
  // How common each staff surname is among the patients.
  const counts = await sql<{ clinician_id: string; n: number | string }>`
    select s.clinician_id, count(distinct k.patient_id) as n from privacy_staff_keys s
    join privacy_patient_keys k on k.kind = 'surname' and k.value = s.value where s.kind = 'surname' group by s.clinician_id`.execute(ctx.db);
  const total = await sql<{ n: number | string }>`select count(distinct patient_id) as n from privacy_patient_keys where kind = 'surname'`.execute(ctx.db);
  const patients = Number(total.rows[0]?.n ?? 0);
  const holders = new Map(counts.rows.map((c) => [c.clinician_id, Number(c.n)]));
  const common = (clinicianId: string) => {
    const n = holders.get(clinicianId) ?? 0;
    return n >= 3 && n >= ctx.policy.surnameMaxShare * patients;
  };
  const groups = r.rows
    .map((g) => {
      const both = g.kinds_hi !== g.kinds;
      return { ...g, n: both ? Number(g.n) / 2 : Number(g.n), kinds: both ? 'surname and address' : g.kinds };
    })
    .filter((g) => g.kinds !== 'surname' || !common(g.clinician_id));
  return pairDayFlags(
    ctx,
    'same-surname-or-address',
    groups,
    chart,
    (g) => `The clinician opened the record of a patient who shares their ${(g as PairDay & { kinds: string }).kinds} (staff directory).`,
    (g) => ({ matches: (g as PairDay & { kinds: string }).kinds, patientsWithSurname: holders.get(g.clinician_id) ?? 0 }),
  );
};

/** f. Any access to a patient marked VIP or staff (admin marker, or the record's own label). */
export const vipOrStaffRule: Rule = async (ctx) => {
  const marked = sql`(select m.patient_id, m.marker from privacy_patient_markers m union select k.patient_id, k.value as marker from privacy_patient_keys k where k.kind = 'marker')`;
  const r = await sql<PairDay & { markers: string }>`
    select f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS} as day, count(*) as n, min(f.at_epoch) as lo, max(f.at_epoch) as hi
    from privacy_access_facts f
    where ${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch} and f.at_epoch <= ${ctx.span.toEpoch}
      and f.patient_id in (select x.patient_id from ${marked} x)
    group by f.clinician_id, f.patient_id, ${ctx.local} / ${DAYS}`.execute(ctx.db);
  if (r.rows.length === 0) return [];
  const ids = [...new Set(r.rows.map((g) => g.patient_id))];
  const markerRows = await sql<{ patient_id: string; marker: string }>`select x.patient_id, x.marker from ${marked} x where x.patient_id in (${sql.join(ids)})`.execute(ctx.db);
  const markers = new Map<string, Set<string>>();
  for (const m of markerRows.rows) markers.set(m.patient_id, (markers.get(m.patient_id) ?? new Set()).add(m.marker));
  const label = (g: PairDay) => [...(markers.get(g.patient_id) ?? [])].sort().join(' and ') || 'restricted';
  return pairDayFlags(
    ctx,
    'vip-or-staff',
    r.rows,
    DEVICE_ACCESS,
    (g) => `The clinician opened the record of a patient marked ${label(g)}; every access to such a record is reviewed.`,
    (g) => ({ marker: label(g) }),
  );
};

/**
 * The windows of `windowMinutes` (starting every half window) in which the
 * clinician read at least `minPatients` distinct patients (facts matching
 * `filter`), with how many writes they made in it; overlapping windows that
 * qualify are merged into one finding.
 */
async function busyWindows(ctx: RuleContext, filter: RawBuilder<unknown>, windowMinutes: number, minPatients: number, needNoWrites: boolean) {
  const w = windowMinutes * 60;
  const half = Math.floor(w / 2);
  const r = await sql<{ clinician_id: string; phase: number | string; bucket: number | string; reads: number | string; writes: number | string }>`
    select x.clinician_id, x.phase, x.bucket,
           count(distinct case when x.action = 'R' and ${filter} then x.patient_id end) as reads,
           sum(case when x.action in ('C', 'U', 'D') then 1 else 0 end) as writes
    from (select f.clinician_id, f.patient_id, f.action, f.network, 0 as phase, f.at_epoch / ${sql.lit(w)} as bucket from privacy_access_facts f
            where ${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch - w} and f.at_epoch <= ${ctx.span.toEpoch + w}
          union all
          select f.clinician_id, f.patient_id, f.action, f.network, 1 as phase, (f.at_epoch + ${sql.lit(half)}) / ${sql.lit(w)} as bucket from privacy_access_facts f
            where ${DEVICE_ACCESS} and f.at_epoch >= ${ctx.span.fromEpoch - w} and f.at_epoch <= ${ctx.span.toEpoch + w}) x
    group by x.clinician_id, x.phase, x.bucket
    having count(distinct case when x.action = 'R' and ${filter} then x.patient_id end) >= ${minPatients}`.execute(ctx.db);
  const windows = r.rows
    .filter((row) => !needNoWrites || Number(row.writes) === 0)
    .map((row) => {
      const from = Number(row.bucket) * w - (Number(row.phase) === 1 ? half : 0);
      return { clinicianId: row.clinician_id, from, to: from + w - 1, reads: Number(row.reads) };
    })
    .filter((x) => x.to >= ctx.span.fromEpoch && x.from <= ctx.span.toEpoch)
    .sort((a, b) => (a.clinicianId < b.clinicianId ? -1 : a.clinicianId > b.clinicianId ? 1 : a.from - b.from));
  const merged: Array<{ clinicianId: string; from: number; to: number; maxReads: number }> = [];
  for (const x of windows) {
    const last = merged.at(-1);
    if (last && last.clinicianId === x.clinicianId && x.from <= last.to) {
      last.to = Math.max(last.to, x.to);
      last.maxReads = Math.max(last.maxReads, x.reads);
    } else merged.push({ clinicianId: x.clinicianId, from: x.from, to: x.to, maxReads: x.reads });
  }
  return merged;
}

/** g. Many charts opened in a short window without charting anything in it. */
export const manyChartsRule: Rule = async (ctx) => {
  const { windowMinutes, minPatients } = ctx.policy.manyCharts;
  const windows = await busyWindows(ctx, sql`1 = 1`, windowMinutes, minPatients, true);
  const flags: RaiseFlag[] = [];
  for (const x of windows) {
    const rows = await citedFacts(ctx, { clinicianId: x.clinicianId, fromEpoch: x.from, toEpoch: x.to, extra: sql`${DEVICE_ACCESS} and f.action = 'R'`, limit: 5000 });
    if (rows.length === 0) continue;
    const firstPerPatient = new Map<string, FactRow>();
    for (const row of rows) if (!firstPerPatient.has(row.patient_id!)) firstPerPatient.set(row.patient_id!, row);
    const lo = Number(rows[0]!.at_epoch);
    const hi = Number(rows.at(-1)!.at_epoch);
    flags.push({
      rule: 'many-charts-no-charting',
      clinicianId: x.clinicianId,
      patientId: null,
      explanation: `The clinician opened ${firstPerPatient.size} patients' records within ${windowMinutes} minutes without charting anything (threshold ${minPatients}).`,
      evidence: evidence([...firstPerPatient.values()].map(refOf), firstPerPatient.size, { patients: firstPerPatient.size, mostInOneWindow: x.maxReads, windowMinutes, threshold: minPatients, writes: 0 }, lo, hi),
      dedupeKey: `many-charts-no-charting:${x.clinicianId}:${iso(x.from)}`,
      at: iso(lo),
    });
  }
  return flags;
};

/** h. A burst of offline reads: many distinct patients read while disconnected, within a short window. */
export const offlineBurstRule: Rule = async (ctx) => {
  const { windowMinutes, minPatients } = ctx.policy.offlineBurst;
  const offline = sql`x.network = 'offline'`;
  const windows = await busyWindows(ctx, offline, windowMinutes, minPatients, false);
  const flags: RaiseFlag[] = [];
  for (const x of windows) {
    const rows = await citedFacts(ctx, { clinicianId: x.clinicianId, fromEpoch: x.from, toEpoch: x.to, extra: sql`${DEVICE_ACCESS} and f.action = 'R' and f.network = 'offline'`, limit: 5000 });
    if (rows.length === 0) continue;
    const firstPerPatient = new Map<string, FactRow>();
    for (const row of rows) if (!firstPerPatient.has(row.patient_id!)) firstPerPatient.set(row.patient_id!, row);
    const lo = Number(rows[0]!.at_epoch);
    const hi = Number(rows.at(-1)!.at_epoch);
    flags.push({
      rule: 'offline-burst',
      clinicianId: x.clinicianId,
      patientId: null,
      explanation: `The clinician read ${firstPerPatient.size} patients' records offline within ${windowMinutes} minutes (threshold ${minPatients}).`,
      evidence: evidence([...firstPerPatient.values()].map(refOf), firstPerPatient.size, { patients: firstPerPatient.size, mostInOneWindow: x.maxReads, windowMinutes, threshold: minPatients }, lo, hi),
      dedupeKey: `offline-burst:${x.clinicianId}:${iso(x.from)}`,
      at: iso(lo),
    });
  }
  return flags;
};

export const RULES: ReadonlyArray<readonly [PrivacyRule, Rule]> = [
  ['break-glass', breakGlassRule],
  ['unassigned-access', unassignedAccessRule],
  ['volume-spike', volumeSpikeRule],
  ['after-hours', afterHoursRule],
  ['same-surname-or-address', sameSurnameOrAddressRule],
  ['vip-or-staff', vipOrStaffRule],
  ['many-charts-no-charting', manyChartsRule],
  ['offline-burst', offlineBurstRule],
];

/** The local-time SQL for a span and the history the rules read around it. */
export function localTimeFor(policy: MonitorPolicy, span: RuleSpan): RawBuilder<number> {
  const margin = (policy.volume.historyDays + 2) * DAY;
  return localSecondsSql(sql`f.at_epoch`, policy.timeZone, span.fromEpoch - margin, span.toEpoch + margin);
}
