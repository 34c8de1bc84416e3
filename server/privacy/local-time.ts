/**
 * Local time of the organisation's time zone inside SQL, the same on SQLite
 * and PostgreSQL: the zone's UTC offsets over a span of time (found with
 * Intl, with one cached formatter per zone) become one CASE over the stored
 * epoch seconds, so a rule groups by local day or hour in the database
 * without a time-zone library there. The offset is sampled once a day and a
 * change is then located to the whole UTC hour by bisection (cost grows with
 * days and changes, not hours: ten years take milliseconds; the runner
 * caps what it judges to about 13 months); a zone whose change falls between whole hours is off by under an
 * hour at that change, and a change undone within one day is not seen.
 * Never builds a formatter per call.
 */
import { sql, type RawBuilder } from 'kysely';

const HOUR = 3600;
const DAY = 24 * HOUR;

/** The zone's offset from UTC at `epochSeconds`, in seconds (east positive). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    formatters.set(zone, f);
  }
  return f;
}

export function zoneOffsetSeconds(zone: string, epochSeconds: number): number {
  const part = formatterOf(zone)
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
  let prev = start;
  for (let t = Math.min(start + DAY, end); prev < end; t = Math.min(t + DAY, end)) {
    const offset = zoneOffsetSeconds(zone, t);
    if (offset !== pieces.at(-1)!.offset) {
      // The first whole hour in (prev, t] with the new offset.
      let lo = prev;
      let hi = t;
      while (hi - lo > HOUR) {
        const mid = lo + Math.floor((hi - lo) / 2 / HOUR) * HOUR;
        if (zoneOffsetSeconds(zone, mid) === pieces.at(-1)!.offset) lo = mid;
        else hi = mid;
      }
      pieces.push({ from: hi, offset });
    }
    prev = t;
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
