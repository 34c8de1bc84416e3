/**
 * Local time of the organisation's time zone inside SQL, the same on SQLite
 * and PostgreSQL: the zone's UTC offsets over a span of time (found with
 * Intl, hour by hour) become one CASE over the stored epoch seconds, so a
 * rule groups by local day or hour in the database without a time-zone
 * library there. Offsets are sampled at whole UTC hours: a zone whose
 * change falls between whole hours is off by under an hour at that change.
 */
import { sql, type RawBuilder } from 'kysely';

const HOUR = 3600;

/** The zone's offset from UTC at `epochSeconds`, in seconds (east positive). */
export function zoneOffsetSeconds(zone: string, epochSeconds: number): number {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
    .formatToParts(new Date(epochSeconds * 1000))
    .find((p) => p.type === 'timeZoneName')?.value;
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(part ?? '');
  if (!m) return 0;
  if (!m[1]) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * HOUR + Number(m[3]) * 60);
}

/** [from, offset] pieces: offset holds from `from` (epoch seconds) until the next piece. */
export function offsetPieces(zone: string, fromEpoch: number, toEpoch: number): Array<{ from: number; offset: number }> {
  const start = Math.floor(fromEpoch / HOUR) * HOUR - 24 * HOUR;
  const end = toEpoch + 24 * HOUR;
  const pieces = [{ from: Number.NEGATIVE_INFINITY, offset: zoneOffsetSeconds(zone, start) }];
  for (let t = start + HOUR; t <= end; t += HOUR) {
    const offset = zoneOffsetSeconds(zone, t);
    if (offset !== pieces.at(-1)!.offset) pieces.push({ from: t, offset });
  }
  return pieces;
}

/** SQL: local time in seconds since 1970 (as if the local clock were UTC) of the epoch-seconds column `column`. */
export function localSecondsSql(column: RawBuilder<unknown>, zone: string, fromEpoch: number, toEpoch: number): RawBuilder<number> {
  const pieces = offsetPieces(zone, fromEpoch, toEpoch);
  if (pieces.length === 1) return sql<number>`(${column} + ${sql.lit(pieces[0]!.offset)})`;
  // Newest piece first: the first `when` whose start is passed wins.
  const whens = pieces
    .slice(1)
    .reverse()
    .map((p) => sql`when ${column} >= ${sql.lit(p.from)} then ${sql.lit(p.offset)}`);
  return sql<number>`(${column} + case ${sql.join(whens, sql` `)} else ${sql.lit(pieces[0]!.offset)} end)`;
}
