/**
 * The backend's change feed (the pull), on SQLite and on PostgreSQL, real
 * database and the real HTTP route: pages walk the feed in (change number,
 * type, id) order across change-number ties (a panel assigned in one command
 * numbers every resource alike), each page bounded and its cursor the last
 * row's "seq/Type/id"; a patient not assigned to the caller (another
 * clinician's, nobody's, one unassigned, one reached by breaking the glass)
 * is never served; `estimate=1` adds `remaining` (the caller's readable
 * resources after the page, nobody else's), and without it there is none;
 * the route refuses a malformed estimate. Then the query plans: a page is a
 * range scan of the change index, never a sort of the caller's whole set,
 * and the count of what remains reads that index alone.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, sql, type Compilable } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { engineOf, type Db } from '../server/database';
import type { Caller } from '../server/auth/caller';
import { mayAccessPatient } from '../server/authorization/access-policy';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients, unassignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { feedPageQuery, nextChangeSeq, pullChanges, readableAfterCountQuery } from '../server/sync/change-feed';
import { storeGrant } from '../server/glass/grant-store';
import { RelyingParty } from '../server/auth/relying-party';
import type { CacheSession } from '../electron/services/cache-session';
import { PULL_PATH, pullReplySchema, type PullReply } from '../shared/sync-api';
import { openBackendDb, registerDevice } from './support/backend-db';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const CLINICIAN = 'dr.feed';
/** Assigned to dr.feed in one command (one change number for all their resources), then one more on its own. */
const PANEL = ['feed-a1', 'feed-a2', 'feed-a3'];
const LATER = 'feed-a4';
const OTHERS = 'feed-others'; // dr.other's
const NOBODY = 'feed-nobody';
const GONE = 'feed-gone'; // assigned to dr.feed, then unassigned
const GLASS = 'feed-glass'; // dr.feed holds an active break-the-glass grant
const OBSERVATIONS = 5;
const PAGE = 3;

const clock = () => new Date();
const caller = (clinicianId = CLINICIAN, scope: Caller['scope'] = 'full'): Caller => ({ clinicianId, deviceId: 'feed-device', scope });
const request = { query: PULL_PATH, clock };
const refOf = (r: { resourceType: string; id: string }) => `${r.resourceType}/${r.id}`;

/** A registered device's session token (a passkey session: scope 'full'). */
async function fullSession(db: Db, clinicianId: string): Promise<string> {
  const { publicKey } = generateKeyPairSync('ed25519');
  // registerDevice reads only the profile id and the public key of a cache session.
  return registerDevice(db, clinicianId, { profile: { profileId: randomUUID() }, keys: { publicKey } } as unknown as CacheSession);
}

/** Every page from the start with `limit` rows a page, as served. */
async function allPages(db: Db, who: Caller, options: { limit: number; estimate?: boolean }): Promise<PullReply[]> {
  const pages: PullReply[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page: PullReply = await pullChanges(db, who, cursor, request, options);
    pages.push(page);
    assert.ok(pages.length < 1000, 'the feed ends');
    if (!page.more) return pages;
    cursor = page.cursor;
  }
}

/** The plan of a query as the engine would run it: SQLite's EXPLAIN QUERY PLAN lines, or PostgreSQL's plan as JSON text. */
async function planOf(db: Db, query: Compilable): Promise<string[]> {
  const compiled = query.compile();
  if (engineOf(db) === 'sqlite') {
    const rows = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]));
    return rows.rows.map((r) => r.detail);
  }
  const rows = await db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]));
  const nodes: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    nodes.push([node['Node Type'], node['Index Name'], node['Relation Name']].filter(Boolean).join(' '));
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
  };
  const plan = rows.rows[0]!['QUERY PLAN'];
  walk(((typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
  return nodes;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the change feed, backend on ${engine}`, () => {
    const dir = scratchDir('change-feed');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    let token = '';

    /** dr.feed's readable resources in the database's own (change number, type, id) order: read here without the access policy. */
    async function expectedFeed(): Promise<Array<{ ref: string; seq: number }>> {
      const rows = await db
        .selectFrom('resources')
        .select(['resource_type', 'id', 'change_seq'])
        .where('patient_id', 'in', [...PANEL, LATER])
        .orderBy('change_seq')
        .orderBy('resource_type')
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ ref: `${r.resource_type}/${r.id}`, seq: Number(r.change_seq) }));
    }

    /** Gives the patient's resources a new change number, as a write to them does. */
    async function touch(patientId: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const seq = await nextChangeSeq(trx);
        await trx.updateTable('resources').set({ change_seq: seq }).where('patient_id', '=', patientId).execute();
      });
    }

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const patientId of [...PANEL, LATER, OTHERS, NOBODY, GONE, GLASS]) {
        writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: OBSERVATIONS })));
      }
      await loadBundles(db, bundleFiles([bundles]));
      await addClinician(db, CLINICIAN, 'Dr Feed', clock);
      await addClinician(db, 'dr.other', 'Dr Other', clock);
      // The unreadable rows sit between the readable ones in the change order.
      await assignPatients(db, CLINICIAN, [GONE]);
      await assignPatients(db, CLINICIAN, PANEL);
      await assignPatients(db, 'dr.other', [OTHERS]);
      await touch(NOBODY);
      await assignPatients(db, CLINICIAN, [LATER]);
      await touch(GLASS);
      await unassignPatients(db, CLINICIAN, [GONE]);
      await touch(GONE);
      const now = Date.now();
      await storeGrant(db, {
        clinicianId: CLINICIAN,
        deviceId: 'feed-device',
        patientId: GLASS,
        reasonCode: 'emergency',
        reasonText: 'test',
        grantedAt: new Date(now - 60_000).toISOString(),
        expiresAt: new Date(now + 3_600_000).toISOString(),
      });
      token = await fullSession(db, CLINICIAN);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('pages walk the feed in (change number, type, id) order across change-number ties, bounded, each cursor the last row served', async () => {
      const expected = await expectedFeed();
      const panelSeqs = new Set(expected.filter((e) => PANEL.some((p) => e.ref.includes(p))).map((e) => e.seq));
      assert.equal(panelSeqs.size, PANEL.length, 'the panel assigned in one command: one change number per patient');
      const tie = Math.max(...[...panelSeqs].map((seq) => expected.filter((e) => e.seq === seq).length));
      assert.ok(tie > PAGE, 'a tie (one patient\'s resources) spans more than a page');

      const pages = await allPages(db, caller(), { limit: PAGE });
      const served = pages.flatMap((p) => p.resources.map(refOf));
      assert.deepEqual(served, expected.map((e) => e.ref), 'every readable resource once, in the database\'s order');
      const seqOf = new Map(expected.map((e) => [e.ref, e.seq]));
      for (const [i, page] of pages.entries()) {
        assert.ok(page.resources.length <= PAGE, 'a page holds at most the limit');
        const last = page.resources.at(-1);
        if (last) assert.equal(page.cursor, `${seqOf.get(refOf(last))}/${last.resourceType}/${last.id}`, 'the cursor is the last row\'s "seq/Type/id"');
        assert.equal(page.more, i < pages.length - 1);
        if (page.more) assert.equal(page.assignedPatients, undefined, 'the assigned list comes with the last page only');
        assert.equal('remaining' in page, false, 'no estimate asked: no remaining');
        pullReplySchema.parse(page);
      }
      assert.deepEqual(pages.at(-1)!.assignedPatients, [...PANEL, LATER].sort(), 'the last page lists the patients assigned now');
      // Pages of the contract's size read the same feed.
      const whole = await allPages(db, caller(), { limit: 2000 });
      assert.equal(whole.length, 1);
      assert.deepEqual(whole[0]!.resources.map(refOf), served);
      // From the end, nothing more and the cursor stays.
      const end = await pullChanges(db, caller(), pages.at(-1)!.cursor, request, { limit: PAGE });
      assert.deepEqual([end.resources.length, end.cursor, end.more], [0, pages.at(-1)!.cursor, false]);
    });

    test('a panel assigned in one command arrives patient by patient: each patient\'s resources together, its Patient resource with them, before the next patient begins', async () => {
      const pages = await allPages(db, caller(), { limit: PAGE });
      const served = pages.flatMap((p) => p.resources);
      const order = served.map((r) => PANEL.find((id) => refOf(r).includes(id))).filter((id): id is string => id !== undefined);
      const runs = order.filter((id, i) => i === 0 || order[i - 1] !== id);
      assert.deepEqual([...runs].sort(), [...PANEL].sort(), 'each panel patient is one run of the feed (not interleaved with the others)');
      for (const id of PANEL) assert.ok(served.some((r) => r.resourceType === 'Patient' && r.id === id), `the Patient resource of ${id} is in its run`);
    });

    test('a page boundary inside a change-number tie resumes at the next row of the tie', async () => {
      const expected = await expectedFeed();
      const tieSeq = expected.find((e) => e.ref.includes(PANEL[0]!))!.seq;
      const tie = expected.filter((e) => e.seq === tieSeq);
      const middle = tie[Math.floor(tie.length / 2)]!;
      const page = await pullChanges(db, caller(), `${tieSeq}/${middle.ref}`, request, { limit: 3 });
      const from = expected.findIndex((e) => e.ref === middle.ref) + 1;
      assert.deepEqual(page.resources.map(refOf), expected.slice(from, from + 3).map((e) => e.ref));
    });

    test('resources of a patient not assigned to the caller are never served: another clinician\'s, nobody\'s, one unassigned, and a sync-only session gets none', async () => {
      const served = (await allPages(db, caller(), { limit: PAGE })).flatMap((p) => p.resources);
      const patientOf = (r: PullReply['resources'][number]) => (r.resourceType === 'Patient' ? r.id : String((r.subject as { reference: string }).reference).replace(/^(urn:uuid:|Patient\/)/, ''));
      assert.deepEqual([...new Set(served.map(patientOf))].sort(), [...PANEL, LATER].sort());
      for (const stranger of [OTHERS, NOBODY, GONE, GLASS]) assert.ok(!served.some((r) => r.id.startsWith(stranger)), `${stranger}: nothing served`);
      const others = (await allPages(db, caller('dr.other'), { limit: PAGE })).flatMap((p) => p.resources);
      assert.deepEqual([...new Set(others.map(patientOf))], [OTHERS], 'the other clinician gets theirs only');
      const sync = await pullChanges(db, caller(CLINICIAN, 'sync'), null, request, { limit: PAGE, estimate: true });
      assert.deepEqual([sync.resources.length, sync.more, sync.remaining], [0, false, 0]);
    });

    test('a patient reached by breaking the glass is readable through the access policy while the grant holds, and the pull does not serve it (the glass records route does), as the policy has it', async () => {
      assert.equal(await mayAccessPatient(db, caller(), 'read', GLASS, clock), true, 'the grant lets the clinician read the patient');
      assert.equal(await mayAccessPatient(db, caller(), 'read', NOBODY, clock), false);
      const served = (await allPages(db, caller(), { limit: PAGE, estimate: true })).flatMap((p) => p.resources);
      assert.ok(!served.some((r) => r.id.startsWith(GLASS)), 'the pull serves assigned patients only');
    });

    test('estimate: remaining is how many of the caller\'s readable resources come after each page (0 on the last), nobody else\'s', async () => {
      const expected = await expectedFeed();
      const all = await db.selectFrom('resources').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.ok(Number(all.n) > expected.length, 'the database holds more than the caller may read');
      const pages = await allPages(db, caller(), { limit: PAGE, estimate: true });
      let servedSoFar = 0;
      for (const page of pages) {
        servedSoFar += page.resources.length;
        assert.equal(page.remaining, expected.length - servedSoFar, `after ${servedSoFar}`);
        pullReplySchema.parse(page);
      }
      assert.equal(pages.at(-1)!.remaining, 0);
      // A write after the page counts in the next page's estimate.
      const first = await pullChanges(db, caller(), null, request, { limit: PAGE, estimate: true });
      await touch(LATER);
      const second = await pullChanges(db, caller(), first.cursor, request, { limit: PAGE, estimate: true });
      assert.equal(second.remaining, expected.length - 2 * PAGE, 'touched rows move after the cursor, still counted once');
    });

    test('the pull route: estimate=1 adds remaining, without it there is none; any other estimate is refused; other parameters are ignored as before', async () => {
      const get = async (query: string) => {
        const r = await fetch(`${url}${PULL_PATH}${query}`, { headers: { authorization: `Bearer ${token}` } });
        return { status: r.status, json: (await r.json()) as Record<string, unknown> };
      };
      const expected = await expectedFeed();
      const asked = await get('?estimate=1');
      assert.equal(asked.status, 200);
      const page = pullReplySchema.parse(asked.json);
      assert.equal(page.remaining, expected.length - page.resources.length);
      const plain = await get('');
      assert.equal(plain.status, 200);
      assert.equal('remaining' in plain.json, false);
      const cursor = `${expected[2]!.seq}/${expected[2]!.ref}`;
      const resumed = await get(`?cursor=${encodeURIComponent(cursor)}&estimate=1`);
      assert.equal(resumed.status, 200);
      assert.equal(pullReplySchema.parse(resumed.json).remaining, Math.max(0, expected.length - 3 - pullReplySchema.parse(resumed.json).resources.length));
      for (const bad of ['?estimate=0', '?estimate=true', '?estimate=', '?estimate=1&estimate=1', '?cursor=1/x/y&estimate=1']) {
        const refused = await get(bad);
        assert.equal(refused.status, 400, bad);
        assert.equal((refused.json.error as { code: string }).code, 'INVALID_REQUEST');
      }
      const unknown = await get('?since=5');
      assert.equal(unknown.status, 200, 'an unknown parameter is ignored, as it was');
      assert.equal('remaining' in unknown.json, false);
    });
  });

  describe(`the change feed's query plans, backend on ${engine}`, () => {
    const dir = scratchDir('change-feed-plan');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    const PATIENTS = 200;
    const ROWS = 100;

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      await addClinician(db, CLINICIAN, 'Dr Feed', clock);
      // 20,000 resources, a quarter of the patients the caller's, numbered patient by patient.
      const note = 'x'.repeat(600);
      for (let p = 0; p < PATIENTS; p++) {
        const patientId = `plan-p${p}`;
        const rows = Array.from({ length: ROWS }, (_, i) => ({
          resource_type: i === 0 ? 'Patient' : 'Observation',
          id: i === 0 ? patientId : `${patientId}-o${i}`,
          patient_id: patientId,
          json: JSON.stringify({ note }),
          change_seq: p + 1,
        }));
        await db.insertInto('resources').values(rows).execute();
        if (p % 4 === 0) await db.insertInto('assignments').values({ clinician_id: CLINICIAN, patient_id: patientId }).execute();
      }
    });

    after(async () => {
      await closeDb?.();
      dir.remove();
    });

    const rangeScan = engine === 'sqlite' ? /^(SCAN|SEARCH) r USING (COVERING )?INDEX resources_by_change_patient\b/ : /^Index (Only )?Scan resources_by_change_patient resources$/;
    const sorted = engine === 'sqlite' ? /TEMP B-TREE/ : /^(Incremental )?Sort\b/;
    const cursors = [null, '1/Patient/plan-p0', `${PATIENTS / 2}/Observation/plan-p${PATIENTS / 2 - 1}-o5`, `${PATIENTS - 2}/Observation/plan-p${PATIENTS - 3}-o5`];

    test('a page is a range scan of the change index from the cursor, filtered by the policy, with no sort, before and after the engine has statistics', async () => {
      for (const statistics of [false, true]) {
        if (statistics) await sql`analyze`.execute(db);
        for (const cursor of cursors) {
          const plan = await planOf(db, feedPageQuery(db, caller(), cursor, 2000));
          const what = `${statistics ? 'analyzed' : 'no statistics'}, cursor ${cursor}: ${plan.join(' | ')}`;
          assert.ok(plan.some((line) => rangeScan.test(line)), what);
          assert.ok(!plan.some((line) => sorted.test(line)), `no sort: ${what}`);
        }
      }
      // And it is the page it should be: the caller's patients only, in order.
      const page = await feedPageQuery(db, caller(), '1/Patient/plan-p0', 2000).execute();
      assert.equal(page.length, 2001);
      assert.ok(page.every((r) => Number(r.patient_id!.slice('plan-p'.length)) % 4 === 0));
    });

    test('the count of what remains sorts nothing (on SQLite it reads the change index alone) and counts the caller\'s rows after the key', async () => {
      const key = [1, 'Patient', 'plan-p0'] as const;
      const plan = await planOf(db, readableAfterCountQuery(db, caller(), key));
      assert.ok(!plan.some((line) => sorted.test(line)), plan.join(' | '));
      if (engine === 'sqlite') assert.ok(plan.some((line) => /^SEARCH r USING COVERING INDEX resources_by_change_patient\b/.test(line)), plan.join(' | '));
      const row = await readableAfterCountQuery(db, caller(), key).executeTakeFirstOrThrow();
      // plan-p0's observations sort before its Patient within change number 1: all of plan-p0 is at or before the key.
      assert.equal(Number(row.n), (PATIENTS / 4 - 1) * ROWS);
    });
  });
}
