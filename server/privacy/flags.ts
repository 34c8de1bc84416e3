/**
 * The flags store: raise a flag (idempotent by its dedupe key: the same
 * finding raised twice, by the runner again or by the break-the-glass grant
 * and then the runner, is one flag; found again with more evidence, the flag grows and,
 * if acknowledged before, reopens), list them (open or acknowledged, newest
 * activity first, in pages), read one, acknowledge one with a note. Pure
 * storage: who may call these is the routes' question (./flag-routes.ts),
 * and auditing a view is theirs too. Never store resource content, search
 * text, a key or a token in a flag.
 */
import { randomUUID } from 'node:crypto';
import { flagEvidenceSchema, flagRuleSchema, privacyFlagSchema, privacyRuleSchema, type FlagEvidence, type FlagStatus, type PrivacyFlag, type PrivacyRule } from '../../shared/privacy-api';
import type { Db, Tables } from '../database';
import type { Clock } from '../clock';
import { forbidden } from '../api-error';

export interface RaiseFlag {
  rule: PrivacyRule;
  clinicianId: string;
  patientId: string | null;
  /** One sentence: why it fired. */
  explanation: string;
  evidence: FlagEvidence;
  /** Same key, same finding: raised once. Convention: `${rule}:${clinicianId}:${patientId ?? '-'}:${window}`. */
  dedupeKey: string;
  /** When the access happened (ISO; the earliest entry the flag rests on). */
  at: string;
}

/** The dedupe key of a break-the-glass finding: one flag per clinician, patient and UTC day (grant and runner agree on it). */
export function breakGlassDedupeKey(clinicianId: string, patientId: string, at: string): string {
  return `break-glass:${clinicianId}:${patientId}:${at.slice(0, 10)}`;
}

/** Raises a flag unless one with the same dedupe key exists; true when this call created it. Call inside the caller's transaction if it has one. */
export async function raiseFlag(trx: Db, flag: RaiseFlag, clock: Clock = () => new Date()): Promise<{ id: string; created: boolean }> {
  privacyRuleSchema.parse(flag.rule);
  const evidence = flagEvidenceSchema.parse(flag.evidence);
  const id = randomUUID();
  const r = await trx
    .insertInto('privacy_flags')
    .values({
      id,
      rule: flag.rule,
      clinician_id: flag.clinicianId,
      patient_id: flag.patientId,
      explanation: flag.explanation,
      evidence: JSON.stringify(evidence),
      dedupe_key: flag.dedupeKey,
      activity_at: flag.at,
      raised_at: clock().toISOString(),
      status: 'open',
      ack_by: null,
      ack_at: null,
      ack_note: null,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 1) return { id, created: true };
  const existing = await trx.selectFrom('privacy_flags').select('id').where('dedupe_key', '=', flag.dedupeKey).executeTakeFirstOrThrow();
  return { id: existing.id, created: false };
}

/** Many flags at once (the runner): the same rule as raiseFlag; returns how many were new. */
export async function raiseFlags(trx: Db, flags: RaiseFlag[], clock: Clock = () => new Date()): Promise<number> {
  let created = 0;
  const raisedAt = clock().toISOString();
  for (let i = 0; i < flags.length; i += 500) {
    const rows = flags.slice(i, i + 500).map((f) => ({
      id: randomUUID(),
      rule: privacyRuleSchema.parse(f.rule),
      clinician_id: f.clinicianId,
      patient_id: f.patientId,
      explanation: f.explanation,
      evidence: JSON.stringify(flagEvidenceSchema.parse(f.evidence)),
      dedupe_key: f.dedupeKey,
      activity_at: f.at,
      raised_at: raisedAt,
      status: 'open',
      ack_by: null,
      ack_at: null,
      ack_note: null,
    }));
    const r = await trx
      .insertInto('privacy_flags')
      .values(rows)
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .executeTakeFirst();
    created += Number(r.numInsertedOrUpdatedRows ?? 0);
    await growExisting(trx, flags.slice(i, i + 500), raisedAt);
  }
  return created;
}

/**
 * The same finding found again with more evidence (more entries the same day under the same key): the flag's
 * explanation and evidence become the larger ones, and a flag acknowledged before it grew is reopened
 * (status open, the earlier acknowledgement kept, evidence numbers reopenedAfterAcknowledgement and reopenedAt).
 */
async function growExisting(trx: Db, flags: RaiseFlag[], at: string): Promise<void> {
  if (flags.length === 0) return;
  const existing = await trx.selectFrom('privacy_flags').select(['id', 'dedupe_key', 'evidence', 'status']).where('dedupe_key', 'in', flags.map((f) => f.dedupeKey)).execute();
  const byKey = new Map(existing.map((e) => [e.dedupe_key, e]));
  for (const f of flags) {
    const row = byKey.get(f.dedupeKey);
    if (!row) continue;
    const old = flagEvidenceSchema.parse(JSON.parse(row.evidence));
    if (f.evidence.refsTotal <= old.refsTotal) continue;
    const reopen = row.status === 'acknowledged';
    const numbers = reopen ? { ...f.evidence.numbers, reopenedAfterAcknowledgement: true, reopenedAt: at } : { ...f.evidence.numbers, ...(old.numbers.reopenedAt ? { reopenedAfterAcknowledgement: true, reopenedAt: old.numbers.reopenedAt } : {}) };
    await trx
      .updateTable('privacy_flags')
      .set({ explanation: f.explanation, evidence: JSON.stringify(flagEvidenceSchema.parse({ ...f.evidence, numbers })), ...(reopen ? { status: 'open' } : {}) })
      .where('id', '=', row.id)
      .execute();
  }
}

type FlagRow = Tables['privacy_flags'];

function storedEvidence(text: string): FlagEvidence {
  try {
    const parsed = flagEvidenceSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // damaged text: shown as no evidence below
  }
  return { refs: [], refsTotal: 0, numbers: { unreadable: true } };
}

/**
 * A stored row as a flag. A row this version cannot fully read (a rule added
 * by a newer backend on the same database, damaged evidence) is still listed,
 * by its rule id and with its evidence marked unreadable: one row must never
 * hide every other flag from the privacy officer.
 */
function toFlag(row: FlagRow): PrivacyFlag {
  const rule = flagRuleSchema.safeParse(row.rule);
  return privacyFlagSchema.parse({
    id: row.id,
    rule: rule.success ? rule.data : 'unreadable-rule',
    clinicianId: row.clinician_id.slice(0, 128),
    patientId: row.patient_id === null ? null : row.patient_id.slice(0, 64),
    explanation: row.explanation.slice(0, 500),
    evidence: storedEvidence(row.evidence),
    at: row.activity_at.slice(0, 40),
    raisedAt: row.raised_at.slice(0, 40),
    status: row.status === 'acknowledged' ? 'acknowledged' : 'open',
    acknowledgement: row.ack_by && row.ack_at ? { by: row.ack_by.slice(0, 128), at: row.ack_at.slice(0, 40), note: (row.ack_note ?? '').slice(0, 2000) } : null,
  });
}

export interface FlagPageCursor {
  at: string;
  id: string;
}

export interface ListFlags {
  status: FlagStatus;
  rule?: PrivacyRule | undefined;
  clinicianId?: string | undefined;
  patientId?: string | undefined;
  limit: number;
  /** The last flag of the previous page: this page starts after it. */
  after?: FlagPageCursor | undefined;
}

/** One page of flags, newest activity first; `next` is the cursor of the following page, or null. */
export async function listFlags(db: Db, q: ListFlags): Promise<{ flags: PrivacyFlag[]; next: FlagPageCursor | null }> {
  let query = db.selectFrom('privacy_flags').selectAll().where('status', '=', q.status);
  if (q.rule) query = query.where('rule', '=', q.rule);
  if (q.clinicianId) query = query.where('clinician_id', '=', q.clinicianId);
  if (q.patientId) query = query.where('patient_id', '=', q.patientId);
  const after = q.after;
  if (after) query = query.where((eb) => eb.or([eb('activity_at', '<', after.at), eb.and([eb('activity_at', '=', after.at), eb('id', '<', after.id)])]));
  const rows = await query.orderBy('activity_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  const flags = rows.map(toFlag);
  const last = flags.at(-1);
  return { flags, next: flags.length === q.limit && last ? { at: last.at, id: last.id } : null };
}

export async function getFlag(db: Db, id: string): Promise<PrivacyFlag | null> {
  const row = await db.selectFrom('privacy_flags').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toFlag(row) : null;
}

/** The code of the refusal to acknowledge a flag about oneself. */
export const FLAG_ABOUT_YOURSELF = 'FLAG_ABOUT_YOURSELF';

/**
 * Acknowledges an open flag with the officer's note; an already acknowledged
 * flag keeps its first acknowledgement (answered as it stands). Null: no such flag.
 * A flag about the officer themselves is refused (403 FLAG_ABOUT_YOURSELF): another officer must acknowledge it.
 */
export async function acknowledgeFlag(db: Db, id: string, by: string, note: string, clock: Clock): Promise<PrivacyFlag | null> {
  const about = await db.selectFrom('privacy_flags').select('clinician_id').where('id', '=', id).executeTakeFirst();
  if (!about) return null;
  if (about.clinician_id === by) throw forbidden(FLAG_ABOUT_YOURSELF, 'A flag about yourself must be acknowledged by another privacy officer.');
  await db.updateTable('privacy_flags').set({ status: 'acknowledged', ack_by: by, ack_at: clock().toISOString(), ack_note: note }).where('id', '=', id).where('status', '=', 'open').where('clinician_id', '<>', by).execute();
  return getFlag(db, id);
}
