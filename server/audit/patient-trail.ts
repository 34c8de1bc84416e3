/**
 * A patient's access trail as the backend holds it: the devices' uploaded
 * entries and the backend's own disclosure events, merged and ordered by the
 * time each was recorded (newest first), in pages behind an opaque cursor, so
 * no device's volume can push another's entries out of reach. The search
 * text (the query entity) is left out unless the caller may see it. Reads
 * only; who may read a trail is the authorization module's answer.
 */
import { z } from 'zod';
import type { Db } from '../database';
import { badRequest } from '../api-error';

export const TRAIL_PAGE_DEFAULT = 100;
export const TRAIL_PAGE_MAX = 500;

/** Where a page ends, in the trail's order: time, then origin ('s' server above 'd' device), device, seq; all descending. */
const cursorSchema = z.strictObject({ t: z.string().max(40), o: z.enum(['d', 's']), d: z.string().max(64), s: z.number().int().nonnegative() });
type Position = z.infer<typeof cursorSchema>;

const encodeCursor = (p: Position) => Buffer.from(JSON.stringify(p)).toString('base64url');

function decodeCursor(text: string): Position {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw badRequest('INVALID_REQUEST', 'The request was malformed.');
  }
}

/** a before b in the trail's order (newest first). */
function precedes(a: Position, b: Position): boolean {
  if (a.t !== b.t) return a.t > b.t;
  if (a.o !== b.o) return a.o > b.o;
  if (a.d !== b.d) return a.d > b.d;
  return a.s > b.s;
}

function withoutSearchText(event: Record<string, unknown>): Record<string, unknown> {
  const entity = event.entity as Array<{ role?: { code?: string } }> | undefined;
  return entity ? { ...event, entity: entity.filter((e) => e.role?.code !== '24') } : event;
}

export interface TrailPage {
  events: Array<Record<string, unknown>>;
  /** Pass back as `cursor` for the next (older) page; null at the end. */
  next: string | null;
}

export async function patientTrailPage(
  db: Db,
  patientId: string,
  options: { cursor: string | undefined; limit: number; withSearchText: boolean },
): Promise<TrailPage> {
  const after = options.cursor === undefined ? null : decodeCursor(options.cursor);
  const take = options.limit + 1;

  let devices = db
    .selectFrom('audit_entry_times as t')
    .innerJoin('audit_entries as e', (j) => j.onRef('e.device_id', '=', 't.device_id').onRef('e.seq', '=', 't.seq'))
    .select(['t.recorded_at', 't.device_id', 't.seq', 'e.event'])
    .where('t.patient_id', '=', patientId);
  if (after) {
    devices =
      after.o === 's'
        ? devices.where('t.recorded_at', '<=', after.t)
        : devices.where((eb) =>
            eb.or([
              eb('t.recorded_at', '<', after.t),
              eb.and([
                eb('t.recorded_at', '=', after.t),
                eb.or([eb('t.device_id', '<', after.d), eb.and([eb('t.device_id', '=', after.d), eb('t.seq', '<', after.s)])]),
              ]),
            ]),
          );
  }
  let server = db.selectFrom('disclosure_events').select(['recorded_at', 'seq', 'event']).where('patient_id', '=', patientId);
  if (after) {
    server =
      after.o === 'd'
        ? server.where('recorded_at', '<', after.t)
        : server.where((eb) => eb.or([eb('recorded_at', '<', after.t), eb.and([eb('recorded_at', '=', after.t), eb('seq', '<', after.s)])]));
  }
  const fromDevices = await devices.orderBy('t.recorded_at', 'desc').orderBy('t.device_id', 'desc').orderBy('t.seq', 'desc').limit(take).execute();
  const fromServer = await server.orderBy('recorded_at', 'desc').orderBy('seq', 'desc').limit(take).execute();
  const merged = [
    ...fromDevices.map((r) => ({ at: { t: r.recorded_at, o: 'd' as const, d: r.device_id, s: Number(r.seq) }, event: r.event })),
    ...fromServer.map((r) => ({ at: { t: r.recorded_at, o: 's' as const, d: '', s: Number(r.seq) }, event: r.event })),
  ].sort((a, b) => (precedes(a.at, b.at) ? -1 : precedes(b.at, a.at) ? 1 : 0));
  const page = merged.slice(0, options.limit);
  const events = page.map((r) => {
    const event = JSON.parse(r.event) as Record<string, unknown>;
    return options.withSearchText ? event : withoutSearchText(event);
  });
  return { events, next: merged.length > options.limit ? encodeCursor(page.at(-1)!.at) : null };
}
