/**
 * Applies pushed changes exactly once. Each change is looked up by (device,
 * idempotency key) first: a repeat gets the stored answer and writes
 * nothing. A new change is authorized against the patient the STORED record
 * belongs to (for a create, the patient its body names), by the access
 * policy; a record's patient never changes through an update. It writes only
 * if the resource is still at the version the device saw (a conditional
 * update, safe under concurrency on SQLite and PostgreSQL); otherwise the
 * answer is a conflict with the current version number, and the current
 * record only for a caller who may read it (disclosed in the server's audit
 * in the same transaction). A change the caller may not make is refused with
 * one reason whether or not the record exists; a change to a signed note
 * (status final) is refused. Every answer is stored under its key, never
 * with record content.
 *
 * Each change stands alone: a change the database itself refuses (a
 * constraint, a trigger, a value too large: ../database-retry's
 * isRefusalOfData, the one list) is answered `refused` with a reason that
 * names no value, and the others land. Any other database error (busy or
 * locked past the retries, read-only, disk full, timeouts) says nothing
 * about the change: the whole push fails with 503 SERVICE_UNAVAILABLE and
 * stores no answer, so the device sends it again; never `refused` for it. A push is first
 * applied without savepoints, its answers stored together at its end; only
 * if the database refuses one of its changes (or that store of answers: a
 * key stored meanwhile by a racing push) is it rolled back and applied again
 * with a savepoint per change (SAVEPOINT, then RELEASE or ROLLBACK TO), each
 * answer stored in its change's savepoint. Likewise its creates: they are
 * inserted ROWS_PER_INSERT at a time when the push ends (or before a later
 * change of the push names one of them), and a create another push made
 * meanwhile (an insert that took fewer rows than it was given) sends the push
 * back to be applied change by change, with savepoints. Savepoints on every push would
 * cost two more statements per change (two round trips each on
 * PostgreSQL, where 500 writing subtransactions in one transaction also
 * overflow the per-backend subtransaction cache and slow every other
 * session's snapshots), for an outcome the fallback gives anyway. A push
 * whose connection died is run again whole (./database-retry: idempotent
 * by key).
 */
import { sql } from 'kysely';
import { z } from 'zod';
import { patientIdOf } from '../../shared/fhir-fields';
import { changeResultSchema, type Change, type ChangeResult } from '../../shared/sync-api';
import type { Caller } from '../auth/caller';
import { patientAccess, type PatientAccess } from '../authorization/access-policy';
import { NOT_FOUND_REASON } from '../authorization/access-refusal';
import { recordDisclosures } from '../audit/disclosure-ledger';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { ApiError } from '../api-error';
import { errorCodeOf, isRefusalOfData, serviceUnavailable, transactionWithRetry } from '../database-retry';
import { operationsEvent } from '../monitoring/operations-log';
import { nextChangeSeq } from './change-feed';
import { disclosuresByPatient } from './served-disclosures';

/** What one push needs while it runs, inside its transaction. */
interface PushContext {
  trx: Db;
  caller: Caller;
  clock: Clock;
  /** The access policy, each patient looked up once per push. */
  may: PatientAccess;
  /**
   * Records this change wrote (`Type/id` by type), stamped with the push's
   * change number once all its changes are applied (see applyInTransaction).
   */
  written: Map<string, Set<string>>;
  /** Records whose content this push's answer carries, by patient (`Type/id`). */
  disclosed: Map<string, Set<string>>;
  /**
   * Read for the whole push in one query each, before its first change:
   * stored answers by key, and stored records by `Type/id` (null: none),
   * kept current as the push writes. A write still checks the version it
   * read (a conditional update), so a record changed meanwhile by another
   * push is a race handled as before, never an overwrite.
   */
  seen: Map<string, string>;
  rows: Map<string, StoredRow | null>;
  /**
   * Answers waiting to be stored in one insert per ROWS_PER_INSERT at the
   * end of a push applied without savepoints (a key stored meanwhile by a
   * racing push then fails that insert, and the push with it, as a change's
   * own insert would); null with savepoints, where each answer is stored in
   * its change's savepoint.
   */
  pendingAnswers: AnswerRow[] | null;
  /**
   * Creates decided `applied` but not yet inserted, by `Type/id`, inserted
   * together (flushCreates) at the end of a push applied without savepoints,
   * or before a later change of the push names one of them; null with
   * savepoints, where each create is inserted in its change's savepoint.
   */
  pendingCreates: Map<string, ResourceRow> | null;
}

interface ResourceRow {
  resource_type: string;
  id: string;
  patient_id: string;
  json: string;
  version_id: number;
  change_seq: number;
}

interface AnswerRow {
  device_id: string;
  idempotency_key: string;
  result: string;
  created_at: string;
}

/** Rows per insert of held-back answers (four bound parameters each) and creates (six): well inside SQLite's and PostgreSQL's limits. */
const ROWS_PER_INSERT = 250;

interface StoredRow {
  json: string;
  version_id: number;
  patient_id: string | null;
}

const refused = (key: string, reason: string): ChangeResult => ({ idempotencyKey: key, status: 'refused', reason });
const notFound = (key: string) => refused(key, NOT_FOUND_REASON);

/** A stored answer also names its resource, so a repeat can attach the current record for a reader. */
const storedAnswerRef = z.object({ resource: z.object({ type: z.string(), id: z.string() }) });

async function readRow(ctx: PushContext, type: string, id: string): Promise<StoredRow | undefined> {
  return ctx.trx.selectFrom('resources').select(['json', 'version_id', 'patient_id']).where('resource_type', '=', type).where('id', '=', id).executeTakeFirst();
}

/** A conflict answer: the version number, and the record itself only if the caller may read its patient now. */
async function conflict(ctx: PushContext, key: string, type: string, id: string, row: StoredRow): Promise<ChangeResult> {
  const answer: ChangeResult = { idempotencyKey: key, status: 'conflict', currentVersion: String(row.version_id) };
  if (!row.patient_id || !(await ctx.may('read', row.patient_id))) return answer;
  let refs = ctx.disclosed.get(row.patient_id);
  if (!refs) ctx.disclosed.set(row.patient_id, (refs = new Set()));
  refs.add(`${type}/${id}`);
  return { ...answer, current: JSON.parse(row.json) as { resourceType: string; id: string } };
}

async function applyOne(ctx: PushContext, change: Change): Promise<ChangeResult> {
  const seen = ctx.seen.get(change.idempotencyKey);
  if (seen !== undefined) return replay(ctx, seen);
  const result = await decide(ctx, change);
  await storeAnswer(ctx, change, result);
  return result;
}

/** Stores the answer under the change's key, without record content (a repeat gets it back). */
async function storeAnswer(ctx: PushContext, change: Change, result: ChangeResult): Promise<void> {
  const { current: _content, ...bare } = result as ChangeResult & { current?: unknown };
  const stored = JSON.stringify({ ...bare, resource: { type: change.resourceType, id: change.id } });
  const row: AnswerRow = { device_id: ctx.caller.deviceId, idempotency_key: change.idempotencyKey, result: stored, created_at: ctx.clock().toISOString() };
  if (ctx.pendingAnswers) ctx.pendingAnswers.push(row);
  else await ctx.trx.insertInto('applied_changes').values(row).execute();
  ctx.seen.set(change.idempotencyKey, stored);
}

/** Stores the answers a push without savepoints held back (see PushContext.pendingAnswers). */
async function storePendingAnswers(ctx: PushContext): Promise<void> {
  const rows = ctx.pendingAnswers ?? [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await ctx.trx.insertInto('applied_changes').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
  }
  // Any answer after this flush is stored at once (none is held back unflushed).
  ctx.pendingAnswers = null;
}

/**
 * Inserts the creates held back (see PushContext.pendingCreates). Each was
 * answered `applied` on the strength of no stored record at prefetch; an
 * insert that takes fewer rows than it was given means another push created
 * one of them meanwhile, so the push is applied again change by change
 * (NeedsSavepoints), where that create is judged against the stored record.
 * At the push's end they are inserted with its change number (`changeSeq`),
 * so they are not written a second time to number them; the `Type/id` of
 * each inserted is returned.
 */
async function flushCreates(ctx: PushContext, changeSeq = UNNUMBERED): Promise<Set<string>> {
  const rows = [...(ctx.pendingCreates?.values() ?? [])].map((row) => ({ ...row, change_seq: changeSeq }));
  ctx.pendingCreates?.clear();
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    const inserted = await ctx.trx
      .insertInto('resources')
      .values(chunk)
      .onConflict((oc) => oc.columns(['resource_type', 'id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== chunk.length) throw new NeedsSavepoints(null);
  }
  return new Set(rows.map((row) => `${row.resource_type}/${row.id}`));
}

/** Reads the push's stored answers and records in one query each (see PushContext.seen and rows). */
async function prefetch(ctx: PushContext, changes: Change[]): Promise<void> {
  const keys = [...new Set(changes.map((c) => c.idempotencyKey))];
  const answers = await ctx.trx.selectFrom('applied_changes').select(['idempotency_key', 'result']).where('device_id', '=', ctx.caller.deviceId).where('idempotency_key', 'in', keys).execute();
  for (const a of answers) ctx.seen.set(a.idempotency_key, a.result);
  const idsByType = new Map<string, Set<string>>();
  for (const c of changes) {
    if (ctx.seen.has(c.idempotencyKey)) continue;
    let ids = idsByType.get(c.resourceType);
    if (!ids) idsByType.set(c.resourceType, (ids = new Set()));
    ids.add(c.id);
  }
  for (const [type, ids] of idsByType) {
    for (const id of ids) ctx.rows.set(`${type}/${id}`, null);
    const found = await ctx.trx.selectFrom('resources').select(['id', 'json', 'version_id', 'patient_id']).where('resource_type', '=', type).where('id', 'in', [...ids]).execute();
    for (const r of found) ctx.rows.set(`${type}/${r.id}`, { json: r.json, version_id: r.version_id, patient_id: r.patient_id });
  }
  // The patients the decisions will ask about: a stored record's own, else the one a create's body names.
  const patients = new Set<string>();
  for (const c of changes) {
    if (ctx.seen.has(c.idempotencyKey)) continue;
    const stored = ctx.rows.get(`${c.resourceType}/${c.id}`);
    const patient = stored ? stored.patient_id : patientIdOf(c.resourceType, c.id, c.resource, new Map());
    if (patient) patients.add(patient);
  }
  await ctx.may.lookUp(patients);
}

/** A repeated key: the stored outcome; for a conflict, the current record only if this caller may read it now. */
async function replay(ctx: PushContext, stored: string): Promise<ChangeResult> {
  const raw = JSON.parse(stored) as unknown;
  const parsed = changeResultSchema.parse(raw);
  if (parsed.status !== 'conflict') return parsed;
  const { current: _old, ...bare } = parsed;
  const ref = storedAnswerRef.safeParse(raw);
  if (!ref.success) return bare;
  const row = await readRow(ctx, ref.data.resource.type, ref.data.resource.id);
  if (!row) return bare;
  const now = await conflict(ctx, bare.idempotencyKey, ref.data.resource.type, ref.data.resource.id, row);
  // The version number stays the one answered first unless the record itself comes along (then they match).
  return 'current' in now ? now : bare;
}

/**
 * A change against a stored record: refused as not found unless the caller
 * may write the stored record's patient; refused if it would move the record
 * to another patient or change a signed note; a conflict if the version
 * moved on; null when it may be written.
 */
async function againstStored(ctx: PushContext, change: Change, bodyPatient: string | null, row: StoredRow): Promise<ChangeResult | null> {
  const key = change.idempotencyKey;
  if (!row.patient_id || !(await ctx.may('write', row.patient_id))) return notFound(key);
  if (bodyPatient !== row.patient_id) return refused(key, 'A record cannot move to another patient.');
  if (change.resourceType === 'Composition' && (JSON.parse(row.json) as { status?: string }).status === 'final') {
    // A signed note never changes, so it never conflicts: corrections are addenda (new resources).
    return refused(key, 'A signed note cannot change; add an addendum.');
  }
  if (change.baseVersion !== String(row.version_id)) return conflict(ctx, key, change.resourceType, change.id, row);
  return null;
}

/** A write's change number until the push takes its number (never seen by a reader: the push has not committed). */
const UNNUMBERED = -1;

function wrote(ctx: PushContext, change: Change): void {
  let ids = ctx.written.get(change.resourceType);
  if (!ids) ctx.written.set(change.resourceType, (ids = new Set()));
  ids.add(change.id);
}

async function decide(ctx: PushContext, change: Change): Promise<ChangeResult> {
  const key = change.idempotencyKey;
  if (change.resource.resourceType !== change.resourceType || change.resource.id !== change.id) {
    return refused(key, 'The change does not match its resource.');
  }
  const bodyPatient = patientIdOf(change.resourceType, change.id, change.resource, new Map());
  const ref = `${change.resourceType}/${change.id}`;
  // A record this push created and has not inserted yet: inserted now, so this change meets it as stored.
  if (ctx.pendingCreates?.has(ref)) await flushCreates(ctx);
  const cached = ctx.rows.get(ref);
  const current = cached === undefined ? await readRow(ctx, change.resourceType, change.id) : (cached ?? undefined);
  const stamped = (version: number) =>
    JSON.stringify({ ...change.resource, meta: { ...(change.resource.meta as object | undefined), versionId: String(version), lastUpdated: ctx.clock().toISOString() } });

  if (!current) {
    // A create: authorized by the patient the body names (there is no stored one).
    if (change.baseVersion !== null || !bodyPatient || !(await ctx.may('write', bodyPatient))) return notFound(key);
    const row: ResourceRow = { resource_type: change.resourceType, id: change.id, patient_id: bodyPatient, json: stamped(1), version_id: 1, change_seq: UNNUMBERED };
    if (ctx.pendingCreates) {
      // Held back (see PushContext.pendingCreates): not stored at prefetch, so it is a create unless a racing push made it first.
      ctx.pendingCreates.set(ref, row);
      ctx.rows.delete(ref);
      wrote(ctx, change);
      return { idempotencyKey: key, status: 'applied', versionId: '1' };
    }
    const inserted = await ctx.trx
      .insertInto('resources')
      .values(row)
      .onConflict((oc) => oc.columns(['resource_type', 'id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) {
      ctx.rows.delete(ref);
      wrote(ctx, change);
      return { idempotencyKey: key, status: 'applied', versionId: '1' };
    }
    ctx.rows.delete(ref);
    // Created meanwhile by someone else: judged against what is stored now, like any change.
    const raced = await readRow(ctx, change.resourceType, change.id);
    return raced ? ((await againstStored(ctx, change, bodyPatient, raced)) ?? notFound(key)) : notFound(key);
  }

  const verdict = await againstStored(ctx, change, bodyPatient, current);
  if (verdict) return verdict;
  const nextVersion = Number(current.version_id) + 1;
  const updated = await ctx.trx
    .updateTable('resources')
    .set({ json: stamped(nextVersion), version_id: nextVersion, change_seq: UNNUMBERED })
    .where('resource_type', '=', change.resourceType)
    .where('id', '=', change.id)
    .where('version_id', '=', Number(change.baseVersion))
    .where('patient_id', '=', current.patient_id)
    .executeTakeFirst();
  // Read again by a later change of this push that names the same record.
  ctx.rows.delete(ref);
  if (Number(updated.numUpdatedRows) === 1) {
    wrote(ctx, change);
    return { idempotencyKey: key, status: 'applied', versionId: String(nextVersion) };
  }
  const raced = await readRow(ctx, change.resourceType, change.id);
  return raced ? ((await againstStored(ctx, change, bodyPatient, raced)) ?? notFound(key)) : notFound(key);
}

/**
 * Thrown out of a push applied without savepoints when the database refused
 * one change (or the store of held-back answers), or a held-back create
 * found its record made by another push: apply it again, change by change,
 * a savepoint per change.
 */
class NeedsSavepoints extends Error {
  constructor(readonly refusal: unknown) {
    super('the push must be applied change by change');
  }
}

/** The answer for a change the database refused: the kind of refusal, never the database's message (it can quote values). */
function refusedByDatabase(key: string, err: unknown): ChangeResult {
  const code = errorCodeOf(err) ?? '';
  const tooLarge = code === '22001' || code === '54000' || code === 'SQLITE_TOOBIG';
  return refused(key, tooLarge ? 'The server cannot store a change this large.' : 'The server\'s database refused this change.');
}

/**
 * Applies a push in order, in one transaction: the writes, their stored
 * answers and the audit of any record content answered commit together
 * before the reply is sent, so an answer lost on the way back is found again
 * by the retry. Should two pushes with the same key race, the loser fails on
 * the primary key, rolls back whole, and its retry gets the stored answer.
 * With `savepoints`, each change is applied (and its answer stored) in its
 * own savepoint, and one the database refuses is answered `refused`;
 * without, the answers are stored at the end, and such a change (or a
 * refusal of that store) aborts the push with NeedsSavepoints.
 */
async function applyInTransaction(trx: Db, caller: Caller, changes: Change[], clock: Clock, savepoints: boolean): Promise<ChangeResult[]> {
  const disclosed = new Map<string, Set<string>>();
  const written = new Map<string, Set<string>>();
  const ctx: PushContext = { trx, caller, clock, may: patientAccess(trx, caller, clock), written, disclosed, seen: new Map(), rows: new Map(), pendingAnswers: savepoints ? null : [], pendingCreates: savepoints ? null : new Map() };
  await prefetch(ctx, changes);
  const results: ChangeResult[] = [];
  let refusedByDb = 0;
  let firstCode: string | undefined;
  for (const change of changes) {
    // A change's disclosures count only if the change stands.
    const mine = new Map<string, Set<string>>();
    ctx.disclosed = mine;
    // Likewise its writes: a change rolled back to its savepoint leaves nothing to number.
    const mineWritten = new Map<string, Set<string>>();
    ctx.written = mineWritten;
    if (savepoints) await sql`savepoint push_change`.execute(trx);
    try {
      results.push(await applyOne(ctx, change));
      if (savepoints) await sql`release savepoint push_change`.execute(trx);
    } catch (err) {
      // Only a refusal of this change's data is answered; anything else fails the push (see the header).
      if (!isRefusalOfData(err)) throw err;
      if (!savepoints) throw new NeedsSavepoints(err);
      await sql`rollback to savepoint push_change`.execute(trx);
      // What this change wrote is undone: read its record and key afresh.
      ctx.rows.delete(`${change.resourceType}/${change.id}`);
      ctx.seen.delete(change.idempotencyKey);
      mine.clear();
      mineWritten.clear();
      // The same key stored meanwhile by a racing push of this device: its answer, not a refusal.
      const stored = await trx.selectFrom('applied_changes').select('result').where('device_id', '=', caller.deviceId).where('idempotency_key', '=', change.idempotencyKey).executeTakeFirst();
      if (stored) {
        results.push(await replay(ctx, stored.result));
        await sql`release savepoint push_change`.execute(trx);
        for (const [patient, refs] of mine) disclosed.set(patient, new Set([...(disclosed.get(patient) ?? []), ...refs]));
        continue;
      }
      refusedByDb++;
      firstCode ??= errorCodeOf(err);
      const answer = refusedByDatabase(change.idempotencyKey, err);
      try {
        await storeAnswer(ctx, change, answer);
      } catch (storeErr) {
        if (!isRefusalOfData(storeErr)) throw storeErr;
        // Not even the answer could be stored: answered, not remembered (the same key is tried again next time).
        await sql`rollback to savepoint push_change`.execute(trx);
      }
      await sql`release savepoint push_change`.execute(trx);
      results.push(answer);
    }
    for (const [patient, refs] of mine) {
      const all = disclosed.get(patient);
      if (all) for (const r of refs) all.add(r);
      else disclosed.set(patient, refs);
    }
    for (const [type, ids] of mineWritten) {
      const all = written.get(type);
      if (all) for (const id of ids) all.add(id);
      else written.set(type, ids);
    }
  }
  // The change number last: the counter row stays locked from here to commit (so pushes commit in
  // number order and a pull never skips one), and taking it after the changes are decided keeps that
  // lock for a few statements instead of the whole push (it serialized every push on PostgreSQL).
  // The creates held back are inserted with it; the other writes are numbered after.
  const seq = written.size > 0 ? await nextChangeSeq(trx) : null;
  let numbered: Set<string>;
  try {
    numbered = await flushCreates(ctx, seq ?? UNNUMBERED);
    await storePendingAnswers(ctx);
  } catch (err) {
    if (err instanceof NeedsSavepoints) throw err;
    if (!isRefusalOfData(err)) throw err;
    throw new NeedsSavepoints(err);
  }
  if (seq !== null) {
    for (const [type, ids] of written) {
      const list = [...ids].filter((id) => !numbered.has(`${type}/${id}`));
      for (let i = 0; i < list.length; i += 500) {
        await trx.updateTable('resources').set({ change_seq: seq }).where('resource_type', '=', type).where('id', 'in', list.slice(i, i + 500)).execute();
      }
    }
  }
  if (refusedByDb > 0) operationsEvent('change-refused-by-database', { ...(firstCode ? { code: firstCode } : {}), changes: refusedByDb });
  if (disclosed.size > 0) {
    await recordDisclosures(trx, caller, disclosuresByPatient(disclosed, { action: 'R', subtype: 'read', query: null }), clock);
  }
  return results;
}

/**
 * Applies a push (see applyInTransaction), run again whole if the
 * database connection died or was busy (idempotent: every change is looked
 * up by its key first). A database error that is not a refusal of a
 * change's data fails the push with SERVICE_UNAVAILABLE (503, Retry-After),
 * logged by code only.
 */
export async function applyChanges(db: Db, caller: Caller, changes: Change[], clock: Clock): Promise<ChangeResult[]> {
  const run = (savepoints: boolean) => transactionWithRetry(db, (trx) => applyInTransaction(trx, caller, changes, clock, savepoints), { idempotent: true });
  try {
    try {
      return await run(false);
    } catch (err) {
      if (!(err instanceof NeedsSavepoints)) throw err;
      return await run(true);
    }
  } catch (err) {
    const code = errorCodeOf(err);
    if (err instanceof ApiError || !code) throw err;
    operationsEvent('database-unavailable', { code });
    throw serviceUnavailable();
  }
}
