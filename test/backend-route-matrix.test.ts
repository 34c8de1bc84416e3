/**
 * The route matrix, on SQLite and on PostgreSQL: every route that touches
 * patient data or the account, called with a session of each kind (the
 * assigned clinician, another clinician, a sync-only session from the
 * device key, a revoked device, a revoked clinician, no token). Each cell
 * of the table below is asserted: the status and error code, that nothing
 * of the patient's records reaches anyone but the assigned clinician's
 * passkey session, that a refusal answers exactly as for something that
 * does not exist (no ETag, no version), and that a refused call changed
 * nothing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { addClinician, revokeClinician, revokeDevice } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import type { CacheSession } from '../electron/services/cache-session';
import { api, deviceSessionMessage } from '../shared/backend-api';
import { AUDIT_GENESIS_HASH, auditHeadMessage, canonicalAuditEntry } from '../shared/audit-entry';
import { AUDIT_UPLOAD_PATH } from '../shared/audit-upload';
import { PULL_PATH, PUSH_PATH, type ChangeResult } from '../shared/sync-api';
import { openBackendDb, registerDevice } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';

type Json = Record<string, unknown>;

const PATIENT = 'matrix-patient';
const OTHERS_PATIENT = 'matrix-others';
const RECORD = `${PATIENT}-o0`;
/** What must never reach anyone but the assigned clinician's passkey session (every record of the patient names it). */
const LEAK = new RegExp(`${PATIENT}|"current"`);

const SESSIONS = ['assigned clinician', 'another clinician', 'sync-only session', 'revoked device', 'revoked clinician', 'no token'] as const;
type Session = (typeof SESSIONS)[number];

const ROUTES = [
  'GET /v1/me',
  'POST /v1/devices/:id/revoke',
  'POST /v1/sync/push',
  'GET /v1/sync/pull',
  'GET /v1/fhir/:type/:id',
  'PUT /v1/fhir/:type/:id',
  'POST /v1/audit/upload',
  'GET /v1/audit/patients/:id',
] as const;
type Route = (typeof ROUTES)[number];

/** Refused before anything else, on every route. */
const SESSION_REFUSALS = { 'revoked device': '403 DEVICE_REVOKED', 'revoked clinician': '403 CLINICIAN_REVOKED', 'no token': '401 SESSION_INVALID' } as const;

/** The table the backend must answer. */
const EXPECTED: Record<Route, Record<Session, string>> = {
  'GET /v1/me': { 'assigned clinician': '200 own account', 'another clinician': '200 own account', 'sync-only session': '403 SCOPE_INSUFFICIENT', ...SESSION_REFUSALS },
  'POST /v1/devices/:id/revoke': {
    'assigned clinician': '200 revoked',
    'another clinician': 'as for an unknown device',
    'sync-only session': '403 SCOPE_INSUFFICIENT',
    ...SESSION_REFUSALS,
  },
  'POST /v1/sync/push': {
    'assigned clinician': '200 applied',
    'another clinician': '200 refused as not found',
    'sync-only session': '200 conflict with the version only',
    ...SESSION_REFUSALS,
  },
  'GET /v1/sync/pull': {
    'assigned clinician': '200 with the patient',
    'another clinician': '200 without the patient',
    'sync-only session': '403 SCOPE_INSUFFICIENT',
    ...SESSION_REFUSALS,
  },
  'GET /v1/fhir/:type/:id': { 'assigned clinician': '200 with ETag', 'another clinician': '404 NOT_FOUND', 'sync-only session': '403 SCOPE_INSUFFICIENT', ...SESSION_REFUSALS },
  'PUT /v1/fhir/:type/:id': { 'assigned clinician': '200 with ETag', 'another clinician': '404 NOT_FOUND', 'sync-only session': '403 SCOPE_INSUFFICIENT', ...SESSION_REFUSALS },
  'POST /v1/audit/upload': {
    'assigned clinician': '200 receipt',
    'another clinician': '400 AUDIT_CHAIN_INVALID',
    'sync-only session': '200 receipt',
    ...SESSION_REFUSALS,
  },
  'GET /v1/audit/patients/:id': { 'assigned clinician': '200 trail', 'another clinician': '404 NOT_FOUND', 'sync-only session': '403 SCOPE_INSUFFICIENT', ...SESSION_REFUSALS },
};

interface TestDevice {
  id: string;
  privateKey: KeyObject;
  asCache: CacheSession;
  /** The device's audit chain as uploaded so far. */
  chain: { seq: number; hash: string };
}

function newDevice(): TestDevice {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const id = randomUUID();
  // registerDevice reads only the profile id and the public key of a cache session.
  return { id, privateKey, asCache: { profile: { profileId: id }, keys: { publicKey } } as unknown as CacheSession, chain: { seq: 0, hash: AUDIT_GENESIS_HASH } };
}

interface Answer {
  status: number;
  code: string | undefined;
  etag: string | null;
  text: string;
  json: Json;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`route matrix, backend on ${engine}`, () => {
    const dir = scratchDir('route-matrix');
    const clock = () => new Date();
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    const care = newDevice();
    const careRevoked = newDevice();
    const spareToRevoke = newDevice();
    const spareToKeep = newDevice();
    const gone = newDevice();
    const other = newDevice();
    const tokens = {} as Record<Session, string | null>;
    /** Each session's device (whose chain an upload continues) and clinician. */
    const who = {} as Record<Session, { device: TestDevice; clinicianId: string }>;

    async function call(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
      const r = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      const json = (text ? JSON.parse(text) : {}) as Json;
      return { status: r.status, code: (json.error as { code?: string } | undefined)?.code, etag: r.headers.get('etag'), text, json };
    }

    const brief = (a: Answer) => `${a.status} ${a.code ?? ''}`.trim();

    async function stored(id = RECORD) {
      const row = await db.selectFrom('resources').select(['json', 'version_id', 'patient_id']).where('resource_type', '=', 'Observation').where('id', '=', id).executeTakeFirstOrThrow();
      return { json: row.json, version: Number(row.version_id), patientId: row.patient_id };
    }

    /** The record as a writer would send it, naming `patientId`. */
    async function body(patientId: string, value: number, id = RECORD): Promise<Json> {
      const { meta: _meta, ...rest } = JSON.parse((await stored(id)).json) as Json;
      return { ...rest, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value, unit: '/min' } };
    }

    /** The patient an attacker would move the record to: their own (the assigned clinician's is this one). */
    const ownPatient = (s: Session) => (s === 'another clinician' ? OTHERS_PATIENT : PATIENT);

    /** A refusal answers as for something that does not exist: same status and body, no ETag. */
    function assertAsMissing(actual: Answer, missing: Answer, what: string) {
      assert.equal(actual.status, missing.status, what);
      assert.deepEqual(actual.json, missing.json, `${what}: one identical body whether it exists or not`);
      assert.equal(actual.etag, null, `${what}: no ETag`);
    }

    async function uploadOne(s: Session, patientId: string): Promise<Answer> {
      const { device, clinicianId } = who[s];
      const seq = device.chain.seq + 1;
      const entry = canonicalAuditEntry({
        seq,
        recordedAt: clock().toISOString(),
        actor: clinicianId,
        action: 'R',
        subtype: 'read',
        patientId,
        entities: [`Patient/${patientId}`],
        query: null,
        outcome: '0',
        deviceId: device.id,
        purpose: 'TREAT',
        network: 'online',
      });
      const hash = createHash('sha256').update(`${device.chain.hash}\n${entry}`).digest('hex');
      const signature = sign(null, Buffer.from(auditHeadMessage(device.id, seq, hash)), device.privateKey).toString('base64');
      const answer = await call('POST', AUDIT_UPLOAD_PATH, tokens[s], { entries: [{ seq, entry, prevHash: device.chain.hash, hash }], head: { seq, hash, signature } });
      if (answer.status === 200) device.chain = { seq, hash };
      return answer;
    }

    /** Runs one cell and describes what happened in the table's words (asserting what the words cannot say). */
    const cells: Record<Route, (s: Session) => Promise<string>> = {
      'GET /v1/me': async (s) => {
        const a = await call('GET', api.me.path, tokens[s]);
        if (a.status !== 200) return brief(a);
        const me = a.json as { clinician: { id: string }; devices: Array<{ id: string }> };
        assert.equal(me.clinician.id, who[s].clinicianId);
        const own = await db.selectFrom('devices').select('id').where('clinician_id', '=', who[s].clinicianId).execute();
        assert.deepEqual(me.devices.map((d) => d.id).sort(), own.map((d) => d.id).sort(), 'only the caller\'s own devices');
        return '200 own account';
      },
      'POST /v1/devices/:id/revoke': async (s) => {
        const target = s === 'assigned clinician' ? spareToRevoke : spareToKeep;
        const a = await call('POST', `/v1/devices/${target.id}/revoke`, tokens[s]);
        const revokedAt = (await db.selectFrom('devices').select('revoked_at').where('id', '=', target.id).executeTakeFirstOrThrow()).revoked_at;
        if (s === 'assigned clinician') {
          assert.ok(revokedAt, 'the clinician revoked their own device');
          return a.status === 200 && a.json.revoked === true ? '200 revoked' : brief(a);
        }
        assert.equal(revokedAt, null, 'nobody else revokes it');
        if (s !== 'another clinician') return brief(a);
        const unknown = await call('POST', `/v1/devices/${randomUUID()}/revoke`, tokens[s]);
        assert.notEqual(a.status, 200);
        return a.status === unknown.status && a.text === unknown.text ? 'as for an unknown device' : `${brief(a)}, but ${brief(unknown)} for an unknown device`;
      },
      'POST /v1/sync/push': async (s) => {
        const before = await stored();
        const version = s === 'sync-only session' ? '0' : String(before.version);
        const change = { idempotencyKey: randomUUID(), resourceType: 'Observation', id: RECORD, baseVersion: version, resource: await body(ownPatient(s), 80) };
        const a = await call('POST', PUSH_PATH, tokens[s], { changes: [change] });
        if (a.status !== 200) {
          assert.deepEqual(await stored(), before, 'nothing changed');
          return brief(a);
        }
        const [result] = (a.json as { results: ChangeResult[] }).results;
        if (s === 'assigned clinician') return result!.status === 'applied' ? '200 applied' : `200 ${result!.status}`;
        assert.deepEqual(await stored(), before, 'nothing changed');
        assert.doesNotMatch(a.text, LEAK);
        if (result!.status === 'conflict') return 'current' in result! ? '200 conflict with the record' : '200 conflict with the version only';
        const missing = await call('POST', PUSH_PATH, tokens[s], { changes: [{ ...change, idempotencyKey: randomUUID(), id: 'matrix-no-such-record', resource: { ...change.resource, id: 'matrix-no-such-record' } }] });
        const [missingResult] = (missing.json as { results: ChangeResult[] }).results;
        assert.deepEqual({ ...result, idempotencyKey: '' }, { ...missingResult, idempotencyKey: '' }, 'refused as a record that does not exist');
        return result!.status === 'refused' && result!.reason === 'Not found among your patients.' ? '200 refused as not found' : `200 ${result!.status}`;
      },
      'GET /v1/sync/pull': async (s) => {
        const a = await call('GET', PULL_PATH, tokens[s]);
        if (a.status !== 200) return brief(a);
        const ids = (a.json as { resources: Json[] }).resources.map((r) => String(r.id));
        if (s !== 'assigned clinician') assert.doesNotMatch(a.text, LEAK);
        else assert.ok(ids.includes(RECORD));
        return ids.some((id) => id.startsWith(PATIENT)) ? '200 with the patient' : '200 without the patient';
      },
      'GET /v1/fhir/:type/:id': async (s) => {
        const a = await call('GET', `/v1/fhir/Observation/${RECORD}`, tokens[s]);
        if (s === 'assigned clinician') return a.status === 200 && a.etag ? '200 with ETag' : brief(a);
        assert.doesNotMatch(a.text, LEAK);
        assert.equal(a.etag, null);
        if (a.status === 404) assertAsMissing(a, await call('GET', '/v1/fhir/Observation/matrix-no-such-record', tokens[s]), 'GET');
        return brief(a);
      },
      'PUT /v1/fhir/:type/:id': async (s) => {
        const before = await stored();
        const headers = (ifMatch: string) => ({ 'idempotency-key': randomUUID(), 'if-match': ifMatch });
        if (s === 'assigned clinician') {
          const a = await call('PUT', `/v1/fhir/Observation/${RECORD}`, tokens[s], await body(PATIENT, 81), headers(`W/"${before.version}"`));
          assert.equal((await stored()).version, before.version + 1);
          return a.status === 200 && a.etag ? '200 with ETag' : brief(a);
        }
        // The attack: a stale If-Match, the body naming the caller's own patient.
        const a = await call('PUT', `/v1/fhir/Observation/${RECORD}`, tokens[s], await body(ownPatient(s), 82), headers('W/"0"'));
        assert.doesNotMatch(a.text, LEAK);
        assert.equal(a.etag, null);
        assert.deepEqual(await stored(), before, 'nothing changed');
        if (a.status === 404) {
          const missing = await call('PUT', '/v1/fhir/Observation/matrix-no-such-record', tokens[s], { ...(await body(ownPatient(s), 82)), id: 'matrix-no-such-record' }, headers('W/"0"'));
          assertAsMissing(a, missing, 'PUT');
        }
        return brief(a);
      },
      'POST /v1/audit/upload': async (s) => {
        const storedBefore = await db.selectFrom('audit_entries').select('seq').where('device_id', '=', who[s].device.id).execute();
        const a = await uploadOne(s, PATIENT);
        if (a.status === 200) return a.json.receipt ? '200 receipt' : '200';
        assert.deepEqual(await db.selectFrom('audit_entries').select('seq').where('device_id', '=', who[s].device.id).execute(), storedBefore, 'nothing stored');
        assert.doesNotMatch(a.text, LEAK);
        if (s === 'another clinician') {
          const missing = await uploadOne(s, 'matrix-no-such-patient');
          assert.equal(brief(missing), brief(a), 'the same refusal as for a patient that does not exist');
          assert.equal(missing.text.replace('matrix-no-such-patient', PATIENT), a.text);
        }
        return brief(a);
      },
      'GET /v1/audit/patients/:id': async (s) => {
        const a = await call('GET', `/v1/audit/patients/${PATIENT}`, tokens[s]);
        if (s === 'assigned clinician') return a.status === 200 && Array.isArray(a.json.events) ? '200 trail' : brief(a);
        assert.doesNotMatch(a.text, LEAK);
        if (a.status === 404) assertAsMissing(a, await call('GET', '/v1/audit/patients/matrix-no-such-patient', tokens[s]), 'trail');
        return brief(a);
      },
    };

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const patientId of [PATIENT, OTHERS_PATIENT]) writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: 3 })));
      await loadBundles(db, bundleFiles([bundles]));
      for (const id of ['dr.care', 'dr.gone', 'dr.other']) await addClinician(db, id, id, clock);
      await assignPatients(db, 'dr.care', [PATIENT]);
      await assignPatients(db, 'dr.gone', [PATIENT]);
      await assignPatients(db, 'dr.other', [OTHERS_PATIENT]);
      tokens['assigned clinician'] = await registerDevice(db, 'dr.care', care.asCache);
      tokens['revoked device'] = await registerDevice(db, 'dr.care', careRevoked.asCache);
      await registerDevice(db, 'dr.care', spareToRevoke.asCache);
      await registerDevice(db, 'dr.care', spareToKeep.asCache);
      tokens['revoked clinician'] = await registerDevice(db, 'dr.gone', gone.asCache);
      tokens['another clinician'] = await registerDevice(db, 'dr.other', other.asCache);
      tokens['no token'] = null;
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });

      // The sync-only session as a desktop gets it after an offline unlock: the device key signs a challenge.
      const options = await call('POST', api.deviceOptions.path, null, { deviceId: care.id });
      const challenge = String(options.json.challenge);
      const signature = sign(null, Buffer.from(deviceSessionMessage(care.id, challenge)), care.privateKey).toString('base64');
      const verified = await call('POST', api.deviceVerify.path, null, { deviceId: care.id, challenge, signature });
      assert.equal(verified.status, 200, verified.text);
      tokens['sync-only session'] = String(verified.json.token);

      await revokeDevice(db, careRevoked.id, clock);
      await revokeClinician(db, 'dr.gone', clock);
      Object.assign(who, {
        'assigned clinician': { device: care, clinicianId: 'dr.care' },
        'sync-only session': { device: care, clinicianId: 'dr.care' },
        'another clinician': { device: other, clinicianId: 'dr.other' },
        'revoked device': { device: careRevoked, clinicianId: 'dr.care' },
        'revoked clinician': { device: gone, clinicianId: 'dr.gone' },
        'no token': { device: newDevice(), clinicianId: 'dr.nobody' },
      });
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    for (const route of ROUTES) {
      for (const session of SESSIONS) {
        test(`${route} as ${session}: ${EXPECTED[route][session]}`, async () => {
          assert.equal(await cells[route](session), EXPECTED[route][session]);
        });
      }
    }
  });
}
