/**
 * The organisation's monitoring settings: working hours and their time zone
 * (after-hours rule), and the thresholds of the statistical rules. Stored in
 * the backend's settings table under 'monitor.<key>' (the device policy
 * ignores them; devices never receive them), set by an admin command
 * (`set-monitor-policy <key> <json>`), each value checked by its schema.
 * Never a per-request setting.
 */
import { z } from 'zod';
import type { Db } from '../database';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour clock');

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const monitorPolicySchema = z.object({
  /** Working hours, local time of `timeZone`: access outside them is after hours (unless the clinician's own shifts say otherwise). */
  workingHours: z.object({ start: hhmm, end: hhmm }),
  /** IANA time zone of the working hours and of "a day" for the volume rule. */
  timeZone: z.string().max(64).refine(isTimeZone, 'an IANA time zone, e.g. Europe/London'),
  /** Volume: fires when a day's distinct patients > median + max(madMultiplier × 1.4826 × MAD, minExcess) of the clinician's other active days within ±historyDays; needs minHistoryDays such days. */
  volume: z.object({
    historyDays: z.number().int().min(7).max(365),
    minHistoryDays: z.number().int().min(3).max(365),
    madMultiplier: z.number().min(1).max(50),
    minExcess: z.number().int().min(1).max(10_000),
  }),
  /** After hours: an hour of day is one of the clinician's own shift hours when they worked in it (or the hour next to it) on at least max(minDays, share × their active days). minDays 0 turns inference off (policy hours only). */
  shifts: z.object({ minDays: z.number().int().min(0).max(365), share: z.number().min(0).max(1) }),
  /** Many charts opened without charting: at least minPatients distinct patients read within windowMinutes, no create/update/delete. */
  manyCharts: z.object({ windowMinutes: z.number().int().min(5).max(1440), minPatients: z.number().int().min(2).max(10_000) }),
  /** Offline burst: at least minPatients distinct patients read offline within windowMinutes. */
  offlineBurst: z.object({ windowMinutes: z.number().int().min(5).max(1440), minPatients: z.number().int().min(2).max(10_000) }),
  /** Same surname: a surname held by at least this share of the patients (and by 3 or more) is common and alone raises nothing (an address match still does). */
  surnameMaxShare: z.number().min(0).max(1),
  /** How often `serve` runs the rules (minutes; 0: never, run `monitor-run` instead). */
  runEveryMinutes: z.number().int().min(0).max(1440),
});
export type MonitorPolicy = z.infer<typeof monitorPolicySchema>;

export const DEFAULT_MONITOR_POLICY: MonitorPolicy = {
  workingHours: { start: '07:00', end: '19:00' },
  timeZone: 'UTC',
  volume: { historyDays: 28, minHistoryDays: 7, madMultiplier: 4, minExcess: 10 },
  shifts: { minDays: 3, share: 0.25 },
  manyCharts: { windowMinutes: 60, minPatients: 15 },
  offlineBurst: { windowMinutes: 30, minPatients: 10 },
  surnameMaxShare: 0.005,
  runEveryMinutes: 15,
};

const PREFIX = 'monitor.';

export async function readMonitorPolicy(db: Db): Promise<MonitorPolicy> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).where('key', 'like', `${PREFIX}%`).execute();
  const stored = Object.fromEntries(rows.map((r) => [r.key.slice(PREFIX.length), JSON.parse(r.value) as unknown]));
  return monitorPolicySchema.parse({ ...DEFAULT_MONITOR_POLICY, ...stored });
}

/** Sets one monitoring setting (a whole value, e.g. workingHours {"start":"08:00","end":"18:00"}); refuses an unknown key or a bad value. */
export async function setMonitorPolicy(db: Db, key: string, value: unknown): Promise<MonitorPolicy> {
  if (!Object.hasOwn(monitorPolicySchema.shape, key)) throw new Error(`unknown monitoring setting "${key.slice(0, 40)}"`);
  const next = monitorPolicySchema.parse({ ...(await readMonitorPolicy(db)), [key]: value });
  const text = JSON.stringify(next[key as keyof MonitorPolicy]);
  await db
    .insertInto('settings')
    .values({ key: `${PREFIX}${key}`, value: text })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: text }))
    .execute();
  return next;
}

/** Minutes since local midnight of an HH:MM. */
export function minuteOfDay(hhmmText: string): number {
  const [h, m] = hhmmText.split(':').map(Number);
  return h! * 60 + m!;
}
