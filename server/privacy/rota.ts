/**
 * The roster: when each clinician is on a shift or on call (an admin import,
 * `npm run server -- import-rota <file.csv>`). The after-hours rule treats
 * access inside a clinician's own rostered period as within policy, and for
 * a clinician with a roster it judges by the roster alone (no inferred
 * shift hours). Times are ISO 8601 instants. Never holds anything but ids
 * and times.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Db } from '../database';

export interface RotaTables {
  privacy_rota: { clinician_id: string; kind: string; starts_at: string; ends_at: string };
}

export const ROTA_KINDS = ['shift', 'on-call'] as const;

export const rotaEntrySchema = z
  .object({
    clinicianId: z.string().min(1).max(128),
    kind: z.enum(ROTA_KINDS),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
  })
  .refine((e) => Date.parse(e.startsAt) < Date.parse(e.endsAt), 'a period ends after it starts');
export type RotaEntry = z.infer<typeof rotaEntrySchema>;

export async function migratePrivacyRota(db: Db): Promise<void> {
  await db.schema
    .createTable('privacy_rota')
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'text', (c) => c.notNull())
    .addColumn('ends_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('privacy_rota_pk', ['clinician_id', 'starts_at', 'kind'])
    .execute();
}

/** Adds rostered periods (an identical period again is ignored). */
export async function addRota(db: Db, entries: RotaEntry[]): Promise<void> {
  const rows = entries.map((e) => {
    const ok = rotaEntrySchema.parse(e);
    return { clinician_id: ok.clinicianId, kind: ok.kind, starts_at: new Date(ok.startsAt).toISOString(), ends_at: new Date(ok.endsAt).toISOString() };
  });
  for (let i = 0; i < rows.length; i += 1000) {
    await db
      .insertInto('privacy_rota')
      .values(rows.slice(i, i + 1000))
      .onConflict((oc) => oc.columns(['clinician_id', 'starts_at', 'kind']).doUpdateSet((eb) => ({ ends_at: eb.ref('excluded.ends_at') })))
      .execute();
  }
}

/** Reads a roster CSV: `clinician,kind,startsAt,endsAt` per line (a header line starting with "clinician" is skipped). */
export function readRotaCsv(file: string): RotaEntry[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.toLowerCase().startsWith('clinician'))
    .map((l, i) => {
      const [clinicianId, kind, startsAt, endsAt] = l.split(',').map((x) => x.trim());
      const parsed = rotaEntrySchema.safeParse({ clinicianId, kind, startsAt, endsAt });
      if (!parsed.success) throw new Error(`roster line ${i + 1} is not clinician,shift|on-call,start,end (ISO 8601)`);
      return parsed.data;
    });
}
