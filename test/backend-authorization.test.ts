/**
 * The backend's one authorization point under attack, on SQLite and on
 * PostgreSQL, through the real HTTP surface (Fastify in process, real
 * database): a signed-in clinician tries to read, overwrite or move records
 * of patients not assigned to them (a stale If-Match / base version whose
 * body names the attacker's own patient, then the version the first answer
 * gave; a patient assigned to nobody; a create over an existing id); a
 * sync-only session (the device key alone) tries to read through conflict
 * answers, and through an idempotency key repeated from another session
 * kind. Every refusal is the answer a non-existent record gets (no content,
 * no version, no ETag), changes nothing, and is a security log line without
 * patient or resource id. Then the policy's rules (assignment, session scope,
 * privacy-officer role) and the role admin commands. The route matrix
 * (every route x every session kind) is in backend-route-matrix.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { spawnSync } from 'node:child_process';
import { buildApp } from '../server/app';
import { migrate, openDatabase, type Db } from '../server/database';
import type { Caller } from '../server/auth/caller';
import { mayAccessPatient } from '../server/authorization/access-policy';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients, unassignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import { setSecurityLogger } from '../server/monitoring/security-log';
import type { CacheSession } from '../electron/services/cache-session';
import { api, deviceSessionMessage } from '../shared/backend-api';
import { PUSH_PATH, type Change, type ChangeResult } from '../shared/sync-api';
import { parseCanonicalAuditEntry } from '../shared/audit-entry';
import { openBackendDb, registerDevice } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { ROOT } from './support/cache-cli';
import { freshPostgresDatabase } from './support/postgres';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { bundledEntry } from './support/bundled-entry';

type Json = Record<string, unknown>;

const OWN = 'authz-own';
const OWN_2 = 'authz-own-2';
const VICTIM = 'authz-victim';
const NOBODY = 'authz-nobody';

/** A registered device: its id and Ed25519 key, as enrollment leaves it. */
interface TestDevice {
  id: string;
  privateKey: KeyObject;
  asCache: CacheSession;
}

function newDevice(): TestDevice {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const id = randomUUID();
  // registerDevice reads only the profile id and the public key of a cache session.
  return { id, privateKey, asCache: { profile: { profileId: id }, keys: { publicKey } } as unknown as CacheSession };
}

/** Captures the security log's JSON lines. */
function captureSecurityLog(): { lines: Json[]; text(): string } {
  const lines: Json[] = [];
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Json);
      done();
    },
  });
  setSecurityLogger(pino({ base: { log: 'security' } }, stream));
  return { lines, text: () => raw };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`authorization under attack, backend on ${engine}`, () => {
    const dir = scratchDir('authz');
    const clock = () => new Date();
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    const attacker = newDevice();
    const victim = newDevice();
    const tokens = { attacker: '', victimFull: '', victimSync: '' };
    let log: ReturnType<typeof captureSecurityLog>;

    async function call(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) {
      const r = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, etag: r.headers.get('etag'), text, json: (text ? JSON.parse(text) : null) as Json };
    }

    const put = (token: string, type: string, id: string, body: unknown, ifMatch?: string, key = randomUUID()) =>
      call('PUT', `/v1/fhir/${type}/${id}`, token, body, { 'idempotency-key': key, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) });

    async function push(token: string, changes: Change[]): Promise<ChangeResult[]> {
      const r = await call('POST', PUSH_PATH, token, { changes });
      assert.equal(r.status, 200, r.text);
      return (r.json as { results: ChangeResult[] }).results;
    }

    async function stored(type: string, id: string) {
      const row = await db.selectFrom('resources').select(['json', 'version_id', 'patient_id', 'change_seq']).where('resource_type', '=', type).where('id', '=', id).executeTakeFirst();
      return row ? { json: row.json, version: Number(row.version_id), patientId: row.patient_id, changeSeq: Number(row.change_seq) } : null;
    }

    async function resource(type: string, id: string): Promise<Json> {
      return JSON.parse((await stored(type, id))!.json) as Json;
    }

    /** An observation as the attacker would send it: the stored one, re-pointed at `patientId`, with a new value. */
    async function hijacked(id: string, patientId: string, value = 999): Promise<Json> {
      const { meta: _meta, ...rest } = await resource('Observation', id);
      return { ...rest, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value, unit: '/min' } };
    }

    const change = (id: string, baseVersion: string | null, body: Json, key = randomUUID()): Change => ({
      idempotencyKey: key,
      resourceType: String(body.resourceType),
      id,
      baseVersion,
      resource: { ...body, resourceType: String(body.resourceType), id },
    });

    async function syncSession(device: TestDevice): Promise<string> {
      const options = await call('POST', api.deviceOptions.path, null, { deviceId: device.id });
      assert.equal(options.status, 200, options.text);
      const challenge = String(options.json.challenge);
      const signature = sign(null, Buffer.from(deviceSessionMessage(device.id, challenge)), device.privateKey).toString('base64');
      const verified = await call('POST', api.deviceVerify.path, null, { deviceId: device.id, challenge, signature });
      assert.equal(verified.status, 200, verified.text);
      return String(verified.json.token);
    }

    /** Nothing of the record leaks: not its patient, not its content, not its version. */
    function assertNothingLeaks(text: string, what: string) {
      assert.doesNotMatch(text, new RegExp(`${VICTIM}|${NOBODY}|Synthetic observation|"current"|versionId`), `${what}: nothing of the record is in the answer`);
    }

    before(async () => {
      log = captureSecurityLog();
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const patientId of [OWN, OWN_2, VICTIM, NOBODY]) {
        writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: patientId === OWN ? 250 : 12 })));
      }
      await loadBundles(db, bundleFiles([bundles]));
      await addClinician(db, 'dr.attacker', 'Dr Attacker', clock);
      await addClinician(db, 'dr.victim', 'Dr Victim', clock);
      await assignPatients(db, 'dr.attacker', [OWN, OWN_2]);
      await assignPatients(db, 'dr.victim', [VICTIM]);
      tokens.attacker = await registerDevice(db, 'dr.attacker', attacker.asCache);
      tokens.victimFull = await registerDevice(db, 'dr.victim', victim.asCache);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      tokens.victimSync = await syncSession(victim);
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('a cross-patient PUT with a stale If-Match naming the attacker\'s own patient gets what a missing record gets; nothing changes', async () => {
      for (const [patientId, id] of [
        [VICTIM, `${VICTIM}-o0`],
        [NOBODY, `${NOBODY}-o0`],
      ] as const) {
        const before = await stored('Observation', id);
        const logged = log.lines.length;
        const missing = await put(tokens.attacker, 'Observation', 'authz-no-such-record', { ...(await hijacked(id, OWN)), id: 'authz-no-such-record' }, 'W/"7"');
        assert.equal(missing.status, 404);
        const stale = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN), 'W/"7"');
        assert.equal(stale.status, 404, `${patientId}: ${stale.text}`);
        assert.deepEqual(stale.json, missing.json, 'one identical body, whether the record exists or not');
        assert.deepEqual((stale.json.error as Json).code, 'NOT_FOUND');
        assert.equal(stale.etag, null, 'no current version in an ETag');
        assertNothingLeaks(stale.text, 'stale PUT');
        // Pushing again with the version the record really has changes nothing either.
        const exact = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN), `W/"${before!.version}"`);
        assert.equal(exact.status, 404);
        assert.deepEqual(exact.json, missing.json);
        assert.equal(exact.etag, null);
        // Without If-Match, no "428 If-Match required" tells that the record exists.
        const blind = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN));
        assert.equal(blind.status, 404);
        assert.deepEqual(blind.json, missing.json);
        // A plain GET: the same answer as for a record that does not exist.
        const read = await call('GET', `/v1/fhir/Observation/${id}`, tokens.attacker);
        const readMissing = await call('GET', '/v1/fhir/Observation/authz-no-such-record', tokens.attacker);
        assert.equal(read.status, 404);
        assert.deepEqual(read.json, readMissing.json);
        assert.equal(read.etag, null);
        assertNothingLeaks(read.text, 'GET');

        const after = await stored('Observation', id);
        assert.deepEqual(after, before, `${patientId}: the record is unchanged and still belongs to its patient`);
        assert.equal(after!.patientId, patientId);
        const refusals = log.lines.slice(logged).filter((l) => l.event === 'access-refused');
        assert.ok(refusals.length >= 4, 'each refusal is a security event');
        for (const r of refusals) {
          assert.equal(r.clinicianId, 'dr.attacker');
          assert.equal(r.deviceId, attacker.id);
          assert.equal(r.route, '/v1/fhir/:type/:id');
          assert.equal(r.code, 'NOT_FOUND');
        }
      }
      assert.doesNotMatch(log.text(), new RegExp(`${VICTIM}|${NOBODY}|${OWN}|authz-no-such-record`), 'no patient or resource id in the security log');
    });

    test('the same attack through the batch push: refused as not found, then again with the version the first answer gave; nothing changes', async () => {
      for (const id of [`${VICTIM}-o1`, `${NOBODY}-o1`]) {
        const before = await stored('Observation', id);
        const [missing, stale] = await push(tokens.attacker, [
          change('authz-no-such-record', '7', await hijacked(id, OWN)),
          change(id, '7', await hijacked(id, OWN)),
        ]);
        assert.equal(missing!.status, 'refused');
        assert.equal(stale!.status, 'refused', JSON.stringify(stale));
        assert.deepEqual({ ...stale, idempotencyKey: '' }, { ...missing, idempotencyKey: '' }, 'the same answer as for a record that does not exist');
        assert.equal((stale as { reason: string }).reason, 'Not found among your patients.');
        assertNothingLeaks(JSON.stringify(stale), 'push');
        // "Push again with the version the first answer gave": there is none; the real one fails alike.
        const [again] = await push(tokens.attacker, [change(id, String(before!.version), await hijacked(id, OWN))]);
        assert.equal(again!.status, 'refused');
        assert.equal((again as { reason: string }).reason, 'Not found among your patients.');
        assert.deepEqual(await stored('Observation', id), before, 'unchanged, still its patient\'s');
      }
    });

    test('an update never moves a record to another patient, not even between two of the clinician\'s own', async () => {
      const id = `${OWN}-o0`;
      const before = await stored('Observation', id);
      const [moved] = await push(tokens.attacker, [change(id, String(before!.version), await hijacked(id, OWN_2))]);
      assert.equal(moved!.status, 'refused');
      const byPut = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN_2), `W/"${before!.version}"`);
      assert.equal(byPut.status, 403);
      assert.equal((byPut.json.error as Json).code, 'CHANGE_REFUSED');
      assert.deepEqual(await stored('Observation', id), before);
      // Moving a victim's record with its exact version is refused as not found.
      const victimId = `${VICTIM}-o2`;
      const victimBefore = await stored('Observation', victimId);
      const [stolen] = await push(tokens.attacker, [change(victimId, String(victimBefore!.version), await hijacked(victimId, OWN))]);
      assert.deepEqual(stolen, { idempotencyKey: stolen!.idempotencyKey, status: 'refused', reason: 'Not found among your patients.' });
      assert.deepEqual(await stored('Observation', victimId), victimBefore);
      // The owner's ordinary update still applies.
      const [applied] = await push(tokens.attacker, [change(id, String(before!.version), await hijacked(id, OWN, 61))]);
      assert.equal(applied!.status, 'applied');
      assert.equal((await stored('Observation', id))!.patientId, OWN);
    });

    test('a create over an id that exists under another patient is refused as not found, by push and by PUT', async () => {
      const id = `${VICTIM}-o3`;
      const before = await stored('Observation', id);
      const [missing, created] = await push(tokens.attacker, [change('authz-no-such-record', '1', await hijacked(id, OWN)), change(id, null, await hijacked(id, OWN))]);
      assert.equal(created!.status, 'refused', JSON.stringify(created));
      assert.deepEqual({ ...created, idempotencyKey: '' }, { ...missing, idempotencyKey: '' });
      const byPut = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN));
      assert.equal(byPut.status, 404);
      assertNothingLeaks(byPut.text, 'PUT create');
      assert.deepEqual(await stored('Observation', id), before);
    });

    test('a sync-only session gets the outcome and the version of a conflict, never the record; a passkey session of the assigned clinician gets the record', async () => {
      const id = `${VICTIM}-o4`;
      const before = await stored('Observation', id);
      const body = await hijacked(id, VICTIM, 70);
      const [viaSync] = await push(tokens.victimSync, [change(id, '0', body)]);
      assert.deepEqual(viaSync, { idempotencyKey: viaSync!.idempotencyKey, status: 'conflict', currentVersion: String(before!.version) });
      const [viaPasskey] = await push(tokens.victimFull, [change(id, '0', body)]);
      assert.equal(viaPasskey!.status, 'conflict');
      assert.equal((viaPasskey as { current?: Json }).current?.id, id, 'the assigned clinician\'s passkey session sees the current version');
      // A sync-only session may still write its clinician's patients.
      const [written] = await push(tokens.victimSync, [change(id, String(before!.version), body)]);
      assert.equal(written!.status, 'applied');
      const after = await stored('Observation', id);
      assert.equal(after!.version, before!.version + 1);
      assert.equal(after!.patientId, VICTIM);
    });

    test('a repeated idempotency key replays the outcome, never content to another session kind; stored answers hold no content', async () => {
      const id = `${VICTIM}-o5`;
      const body = await hijacked(id, VICTIM, 71);
      // First answered to the passkey session (with content), then repeated by the same device's sync-only session.
      const key = randomUUID();
      const [first] = await push(tokens.victimFull, [change(id, '0', body, key)]);
      assert.ok((first as { current?: Json }).current, 'the passkey session sees the record');
      const [repeated] = await push(tokens.victimSync, [change(id, '0', body, key)]);
      assert.deepEqual(repeated, { idempotencyKey: key, status: 'conflict', currentVersion: (first as { currentVersion: string }).currentVersion });
      // First answered to the sync-only session, then repeated by the passkey session: it may read now, so it gets the record.
      const key2 = randomUUID();
      const [first2] = await push(tokens.victimSync, [change(id, '0', body, key2)]);
      assert.equal((first2 as { current?: Json }).current, undefined);
      const [repeated2] = await push(tokens.victimFull, [change(id, '0', body, key2)]);
      assert.equal((repeated2 as { current?: Json }).current?.id, id);
      // Through PUT, a repeat of a 412 by the same device: the stored answer, with content only for a reader.
      const key3 = randomUUID();
      const conflict = await put(tokens.victimFull, 'Observation', id, body, 'W/"0"', key3);
      assert.equal(conflict.status, 412);
      assert.ok(conflict.json.current);
      const [replayed] = await push(tokens.victimSync, [change(id, '0', body, key3)]);
      assert.equal(replayed!.status, 'conflict');
      assert.equal((replayed as { current?: Json }).current, undefined, 'the 412 replayed to the sync-only session carries no record');
      const rows = await db.selectFrom('applied_changes').select(['result']).execute();
      assert.ok(rows.length > 0);
      for (const r of rows) assert.doesNotMatch(r.result, /"current"|Synthetic observation/, 'no stored answer keeps record content');
    });

    test('the attacker\'s own records stay readable and writable', async () => {
      const id = `${OWN}-o1`;
      const got = await call('GET', `/v1/fhir/Observation/${id}`, tokens.attacker);
      assert.equal(got.status, 200);
      assert.ok(got.etag);
      const put1 = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN, 62), got.etag!);
      assert.equal(put1.status, 200);
      const stale = await put(tokens.attacker, 'Observation', id, await hijacked(id, OWN, 63), got.etag!);
      assert.equal(stale.status, 412);
      assert.equal((stale.json.current as Json).id, id, 'an assigned clinician sees the current version');
      const created = await put(tokens.attacker, 'Observation', `${OWN}-new`, { ...(await hijacked(id, OWN, 64)), id: `${OWN}-new` });
      assert.equal(created.status, 201);
      assert.equal((await stored('Observation', `${OWN}-new`))!.patientId, OWN);
    });

    test('what the backend discloses is in its own audit chain (GET, pull page, conflict body), one event per patient; refusals and outcomes alone are not', async () => {
      const lastSeq = async () => Number((await db.selectFrom('disclosure_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst())?.seq ?? 0);
      const since = async (seq: number) =>
        (await db.selectFrom('disclosure_events').select('entry').where('seq', '>', seq).orderBy('seq').execute()).map((r) => parseCanonicalAuditEntry(r.entry)!);

      let mark = await lastSeq();
      assert.equal((await call('GET', `/v1/fhir/Observation/${OWN}-o2`, tokens.attacker)).status, 200);
      assert.equal((await call('GET', `/v1/fhir/Observation/${VICTIM}-o2`, tokens.attacker)).status, 404);
      let events = await since(mark);
      assert.equal(events.length, 1, 'the refused read discloses nothing and records no disclosure');
      assert.deepEqual(
        { actor: events[0]!.actor, deviceId: events[0]!.deviceId, action: events[0]!.action, subtype: events[0]!.subtype, patientId: events[0]!.patientId, entities: events[0]!.entities },
        { actor: 'dr.attacker', deviceId: attacker.id, action: 'R', subtype: 'read', patientId: OWN, entities: [`Observation/${OWN}-o2`] },
      );

      mark = await lastSeq();
      const id = `${VICTIM}-o6`;
      await push(tokens.victimSync, [change(id, '0', await hijacked(id, VICTIM))]);
      assert.equal((await since(mark)).length, 0, 'a conflict without the record discloses nothing');
      await push(tokens.victimFull, [change(id, '0', await hijacked(id, VICTIM)), change(`${VICTIM}-o7`, '0', await hijacked(`${VICTIM}-o7`, VICTIM))]);
      events = await since(mark);
      assert.equal(events.length, 1, 'one event for the patient of both conflicts');
      assert.deepEqual([events[0]!.action, events[0]!.subtype, events[0]!.patientId, events[0]!.deviceId], ['R', 'read', VICTIM, victim.id]);
      assert.deepEqual([...events[0]!.entities].sort(), [`Observation/${id}`, `Observation/${VICTIM}-o7`]);

      mark = await lastSeq();
      const page = await call('GET', '/v1/sync/pull', tokens.attacker);
      assert.equal(page.status, 200);
      const served = new Map<string, string[]>();
      for (const r of (page.json as { resources: Json[] }).resources) {
        const patientId = r.resourceType === 'Patient' ? String(r.id) : String((r.subject as Json).reference).replace('Patient/', '');
        served.set(patientId, [...(served.get(patientId) ?? []), `${String(r.resourceType)}/${String(r.id)}`]);
      }
      assert.deepEqual([...served.keys()].sort(), [OWN, OWN_2].sort(), 'the page holds the attacker\'s patients only');
      events = await since(mark);
      for (const e of events) {
        assert.deepEqual([e.action, e.subtype, e.query, e.actor], ['E', 'search-type', '/v1/sync/pull', 'dr.attacker']);
        assert.ok(e.entities.length <= 200, 'at most 200 references an event');
      }
      assert.equal(events.filter((e) => e.patientId === OWN).length, 2, 'a patient with 251 resources on the page: two events');
      for (const [patientId, refs] of served) {
        assert.deepEqual(events.filter((e) => e.patientId === patientId).flatMap((e) => e.entities).sort(), refs.sort(), 'every resource served is named, for its own patient');
      }
    });

    test('an unassigned patient is out of reach at once', async () => {
      await assignPatients(db, 'dr.attacker', [NOBODY]);
      const id = `${NOBODY}-o6`;
      assert.equal((await call('GET', `/v1/fhir/Observation/${id}`, tokens.attacker)).status, 200);
      await unassignPatients(db, 'dr.attacker', [NOBODY]);
      assert.equal((await call('GET', `/v1/fhir/Observation/${id}`, tokens.attacker)).status, 404);
      const [stale] = await push(tokens.attacker, [change(id, '0', await hijacked(id, NOBODY))]);
      assert.equal((stale as { reason?: string }).reason, 'Not found among your patients.');
    });
  });
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the access policy and its roles, backend on ${engine}`, () => {
    const dir = scratchDir('authz-policy');
    const clock = () => new Date();
    let db: Db;
    let pg: Awaited<ReturnType<typeof freshPostgresDatabase>> | null = null;

    /** The real admin command line, against this database. */
    function admin(args: string[]): string {
      const env = { ...process.env, ...(pg ? { DATABASE_URL: pg.url } : {}) };
      const r = spawnSync(process.execPath, [bundledEntry(join(ROOT, 'server', 'main.ts')), ...args, '--data-dir', dir.path], { cwd: ROOT, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`admin ${args[0]} failed: ${r.stderr}`);
      return r.stdout.trim();
    }

    before(async () => {
      pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
      ({ db } = openDatabase({ databaseUrl: pg?.url, dataDir: dir.path }));
      await migrate(db);
      for (const id of ['dr.care', 'dr.other', 'dr.privacy']) await addClinician(db, id, id, clock);
      await assignPatients(db, 'dr.care', [VICTIM]);
    });

    after(async () => {
      await db?.destroy();
      await pg?.drop();
      dir.remove();
    });

    const caller = (clinicianId: string, scope: 'full' | 'sync'): Caller => ({ clinicianId, deviceId: randomUUID(), scope });

    async function table(): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const [name, who] of [
        ['assigned, passkey', caller('dr.care', 'full')],
        ['assigned, sync-only', caller('dr.care', 'sync')],
        ['not assigned, passkey', caller('dr.other', 'full')],
        ['privacy officer, passkey', caller('dr.privacy', 'full')],
        ['privacy officer, sync-only', caller('dr.privacy', 'sync')],
      ] as const) {
        const allowed = [];
        for (const action of ['read', 'write', 'trail', 'trail-full'] as const) if (await mayAccessPatient(db, who, action, VICTIM)) allowed.push(action);
        out[name] = allowed.join(' ');
      }
      return out;
    }

    test('decides from the session scope, the current assignment and the role, and nothing else', async () => {
      assert.equal(admin(['grant-role', 'dr.privacy', 'privacy-officer']), 'granted');
      assert.equal(admin(['grant-role', 'dr.privacy', 'privacy-officer']), 'already held');
      assert.deepEqual(await table(), {
        'assigned, passkey': 'read write trail',
        'assigned, sync-only': 'write',
        'not assigned, passkey': '',
        'privacy officer, passkey': 'trail trail-full',
        'privacy officer, sync-only': '',
      });
      // Nobody may touch a patient no one is assigned to, or a record without a patient.
      for (const action of ['read', 'write', 'trail'] as const) {
        assert.equal(await mayAccessPatient(db, caller('dr.care', 'full'), action, NOBODY), false);
        assert.equal(await mayAccessPatient(db, caller('dr.care', 'full'), action, ''), false);
      }
    });

    test('revoking the role and ending the assignment take effect at the next decision', async () => {
      assert.equal(admin(['revoke-role', 'dr.privacy', 'privacy-officer']), 'revoked');
      assert.equal(admin(['revoke-role', 'dr.privacy', 'privacy-officer']), 'not held');
      await unassignPatients(db, 'dr.care', [VICTIM]);
      assert.deepEqual(Object.values(await table()), ['', '', '', '', '']);
      await assignPatients(db, 'dr.care', [VICTIM]);
    });

    test('the admin commands refuse an unknown role or clinician', () => {
      assert.throws(() => admin(['grant-role', 'dr.other', 'superuser']));
      assert.throws(() => admin(['grant-role', 'dr.nobody', 'privacy-officer']));
    });
  });
}
