/**
 * Break the glass on the backend (SQLite and PostgreSQL), through the real
 * HTTP surface (Fastify on loopback, real database, the backend's clock
 * injected so a grant's expiry is reached without sleeping): the restricted
 * search answers a handle and a neutral label and nothing else; breaking
 * the glass needs a reason and the caller's own live unused handle, and is
 * refused for a sync-only session and a revoked clinician; the grant is
 * stored with an ETREAT disclosure and a privacy flag in one transaction;
 * the granted patient's records are served (and audited ETREAT) during the
 * grant and refused after it, as are writes; device audit entries under a
 * grant upload, and an ETREAT entry outside a grant is stored flagged.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { RelyingParty } from '../server/auth/relying-party';
import { addClinician, readPolicy, revokeClinician, revokeDevice, setPolicy } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import { AFTER_ASSIGNMENT_EXTENSION, EMERGENCY_WITHOUT_GRANT_EXTENSION } from '../server/audit/audit-ledger';
import { EMERGENCY_PURPOSE, parseCanonicalAuditEntry } from '../shared/audit-entry';
import { AUDIT_UPLOAD_PATH, type AuditUpload } from '../shared/audit-upload';
import { api, deviceSessionMessage } from '../shared/backend-api';
import { PUSH_PATH, type ChangeResult } from '../shared/sync-api';
import {
  GLASS_GRANTS_PATH,
  GLASS_REASON_MESSAGE,
  GLASS_REFUSED_MESSAGE,
  GLASS_SEARCH_PATH,
  RESTRICTED_LABEL,
  glassActiveReplySchema,
  glassFacts,
  glassGrantReplySchema,
  glassRecordsPath,
  glassRecordsReplySchema,
  glassSearchReplySchema,
} from '../shared/glass-api';
import type { CacheSession } from '../electron/services/cache-session';
import { loadReceiptKey } from './support/receipt-key';
import { openBackendDb, registerDevice } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { HandBuiltDevice } from './support/signed-audit-chain';

type Json = Record<string, unknown>;
const MINUTE = 60_000;

const OWN = 'gl-own1';
const TARGETS = ['gl-tgt1', 'gl-tgt2', 'gl-tgt3', 'gl-tgt4'] as const;
const VICTIMS = 'gl-vict';
/** How a synthetic patient is named (support/synthetic-bundles.ts). */
const familyOf = (id: string) => `Testfamily${id.slice(-4)}`;

interface Device {
  id: string;
  privateKey: KeyObject;
  asCache: CacheSession;
}
function newDevice(): Device {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const id = randomUUID();
  return { id, privateKey, asCache: { profile: { profileId: id }, keys: { publicKey } } as unknown as CacheSession };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`break the glass, backend on ${engine}`, () => {
    const dir = scratchDir('glass');
    let offset = 0;
    const clock = () => new Date(Date.now() + offset);
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    const glassDevice = newDevice();
    const glassOther = newDevice();
    const tokens = { glass: '', glassOtherDevice: '', glassSync: '', other: '', revoked: '', rate: '' };

    async function call(method: string, path: string, token: string | null, body?: unknown) {
      const r = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, text, json: (text ? JSON.parse(text) : null) as Json, retryAfter: r.headers.get('retry-after') };
    }
    const errorOf = (r: { json: Json }) => r.json.error as { code: string; message: string };

    async function syncSession(device: Device): Promise<string> {
      const options = await call('POST', api.deviceOptions.path, null, { deviceId: device.id });
      assert.equal(options.status, 200, options.text);
      const challenge = String(options.json.challenge);
      const signature = sign(null, Buffer.from(deviceSessionMessage(device.id, challenge)), device.privateKey).toString('base64');
      const verified = await call('POST', api.deviceVerify.path, null, { deviceId: device.id, challenge, signature });
      assert.equal(verified.status, 200, verified.text);
      return String(verified.json.token);
    }

    async function search(token: string, query: string) {
      return call('POST', GLASS_SEARCH_PATH, token, { query });
    }
    async function handleFor(token: string, patientId: string): Promise<string> {
      const r = await search(token, familyOf(patientId));
      assert.equal(r.status, 200, r.text);
      const { matches } = glassSearchReplySchema.parse(r.json);
      assert.equal(matches.length, 1, 'one restricted match');
      return matches[0]!.handle;
    }
    const reason = { code: 'emergency-treatment', text: 'Unconscious in the emergency department' };
    const NO_REASON = Symbol('no reason');
    const grant = (token: string, handle: string, why: unknown = reason) => call('POST', GLASS_GRANTS_PATH, token, why === NO_REASON ? { handle } : { handle, reason: why });

    const lastDisclosures = async (n: number) =>
      (await db.selectFrom('disclosure_events').selectAll().orderBy('seq', 'desc').limit(n).execute()).map((r) => ({ ...r, parsed: parseCanonicalAuditEntry(r.entry)! }));
    const grantRows = (patientId: string) => db.selectFrom('glass_grants').selectAll().where('patient_id', '=', patientId).execute();

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const patientId of [OWN, ...TARGETS, VICTIMS]) writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: 12 })));
      await loadBundles(db, bundleFiles([bundles]));
      for (const [id, name] of [
        ['dr.glass', 'Dr Glass'],
        ['dr.other', 'Dr Other'],
        ['dr.revoked', 'Dr Revoked'],
        ['dr.rate', 'Dr Rate'],
      ] as const) {
        await addClinician(db, id, name, clock);
      }
      await assignPatients(db, 'dr.glass', [OWN], () => new Date(Date.now() - 24 * 60 * MINUTE));
      await assignPatients(db, 'dr.other', [VICTIMS]);
      // Hours pass in these tests: sessions must not end for being idle.
      await setPolicy(db, 'sessionIdleMinutes', 720);
      tokens.glass = await registerDevice(db, 'dr.glass', glassDevice.asCache);
      tokens.glassOtherDevice = await registerDevice(db, 'dr.glass', glassOther.asCache);
      tokens.other = await registerDevice(db, 'dr.other', newDevice().asCache);
      tokens.revoked = await registerDevice(db, 'dr.revoked', newDevice().asCache);
      tokens.rate = await registerDevice(db, 'dr.rate', newDevice().asCache);
      app = buildApp({
        db,
        rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock),
        clock,
        receiptKey: loadReceiptKey(dir.path),
        glass: { searchPerMinute: 1000, grantPerMinute: 1000 },
      });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      tokens.glassSync = await syncSession(glassDevice);
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('the restricted search answers a handle and "Restricted patient" only: no name, birth date, identifier or patient id; assigned patients are not in it', async () => {
      const r = await search(tokens.glass, familyOf('gl-tgt1'));
      assert.equal(r.status, 200, r.text);
      const matches = r.json.matches as Json[];
      assert.equal(matches.length, 1);
      assert.deepEqual(Object.keys(r.json), ['matches']);
      assert.deepEqual(Object.keys(matches[0]!).sort(), ['handle', 'label']);
      assert.equal(matches[0]!.label, RESTRICTED_LABEL);
      assert.match(String(matches[0]!.handle), /^[A-Za-z0-9_-]{43}$/);
      assert.doesNotMatch(r.text, /gl-tgt1|Testfamily|Synthetic|1970|birthDate|MRN|name|identifier|Patient\/|patientId/i, 'nothing of the patient in the answer');
      // By identifier (exact), and by given name: every unassigned patient, never the clinician's own.
      const byMrn = await search(tokens.glass, 'MRN-gl-tgt2');
      assert.equal((byMrn.json.matches as Json[]).length, 1);
      assert.equal((await search(tokens.glass, 'MRN-gl-tgt')).json.matches instanceof Array && ((await search(tokens.glass, 'MRN-gl-tgt')).json.matches as Json[]).length, 0, 'an identifier matches exactly, not by prefix');
      const everyone = await search(tokens.glass, 'Synthetic');
      assert.equal((everyone.json.matches as Json[]).length, TARGETS.length + 1, 'every unassigned patient (the targets and another clinician\'s)');
      assert.equal(new Set((everyone.json.matches as Json[]).map((m) => m.handle)).size, TARGETS.length + 1, 'a fresh handle each');
      const own = await search(tokens.glass, familyOf(OWN));
      assert.deepEqual(own.json, { matches: [] }, 'an assigned patient is in the desktop\'s cache, not here');
      // The search is recorded, naming no patient it did not reveal.
      const [recorded] = await lastDisclosures(1);
      assert.equal(recorded!.patient_id, null);
      assert.equal(recorded!.parsed.action, 'E');
      assert.equal(recorded!.parsed.subtype, 'search-type');
      assert.equal(recorded!.parsed.actor, 'dr.glass');
      assert.deepEqual(recorded!.parsed.entities, ['urn:clinician-desktop:break-glass:matches:0']);
      assert.doesNotMatch(recorded!.entry + recorded!.event, /gl-tgt|gl-vict|Patient\//, 'no patient id in the search\'s ledger entry');
      // Nothing is stored that a hostile reader of the database could turn back into a handle.
      const stored = await db.selectFrom('glass_handles').select('handle_hash').execute();
      assert.ok(stored.every((h) => !(everyone.json.matches as Json[]).some((m) => m.handle === h.handle_hash)), 'handles are stored hashed');
    });

    test('the search is no oracle: an identifier matches alone and exactly, never combined with name words; names match whole words only, no prefix', async () => {
      const count = async (q: string) => {
        const r = await search(tokens.glass, q);
        assert.equal(r.status, 200, `${q}: ${r.text}`);
        return (r.json.matches as Json[]).length;
      };
      const family = familyOf('gl-tgt2');
      // Knowing the MRN, name words must not be recoverable letter by letter (attack-a A6).
      for (const probe of [`MRN-gl-tgt2 ${family.slice(0, 2)}`, `MRN-gl-tgt2 ${family.slice(0, 5)}`, `MRN-gl-tgt2 ${family}`, `MRN-gl-tgt2 Synthetic`, `MRN-gl-tgt2 sy`, `MRN-gl-tgt2 zz`]) {
        assert.equal(await count(probe), 0, `an identifier with name words answers nothing: ${probe}`);
      }
      assert.equal(await count('MRN-gl-tgt2'), 1, 'the identifier alone still finds the patient');
      // Name prefixes find nobody; whole words do (a family name alone, or given and family, any order).
      assert.equal(await count(family.slice(0, 6)), 0, 'a name prefix matches nothing');
      assert.equal(await count('Synth'), 0);
      assert.equal(await count(`Sy ${family}`), 0, 'every word must be a whole name word');
      assert.equal(await count(family), 1);
      assert.equal(await count(`${family} Synthetic`), 1, 'family and given name, in either order (Smith John)');
      assert.equal(await count(`synthetic ${family.toUpperCase()}`), 1, 'case folded');
    });

    test('search text is never SQL: wildcards match themselves, other characters are refused, short text is refused', async () => {
      for (const wild of ['___', '%%%', "x' or 1=1 --"]) {
        const r = await search(tokens.glass, wild);
        assert.ok(r.status === 400 || (r.status === 200 && (r.json.matches as Json[]).length === 0), `${wild}: ${r.text}`);
      }
      assert.equal((await search(tokens.glass, '___')).status, 200, 'underscores are searched literally');
      assert.deepEqual((await search(tokens.glass, '___')).json, { matches: [] });
      assert.equal((await search(tokens.glass, 'ab')).status, 400);
      assert.equal((await search(tokens.glass, 'a b c')).status, 400, 'one-letter words would match most names');
      assert.equal((await search(tokens.glass, 'Syn thetic word five more')).status, 400);
    });

    test('a sync-only session, a revoked clinician and a revoked device are refused before anything is searched or granted', async () => {
      const sync = await search(tokens.glassSync, familyOf('gl-tgt1'));
      assert.equal(sync.status, 403);
      assert.equal(errorOf(sync).code, 'SCOPE_INSUFFICIENT');
      assert.equal(sync.json.matches, undefined);
      const handle = await handleFor(tokens.glass, 'gl-tgt1');
      const syncGrant = await grant(tokens.glassSync, handle);
      assert.equal(syncGrant.status, 403);
      assert.equal(errorOf(syncGrant).code, 'SCOPE_INSUFFICIENT');

      const revokedHandle = await handleFor(tokens.revoked, 'gl-tgt1');
      await revokeClinician(db, 'dr.revoked', clock);
      const revokedSearch = await search(tokens.revoked, familyOf('gl-tgt1'));
      assert.equal(revokedSearch.status, 403);
      assert.equal(errorOf(revokedSearch).code, 'CLINICIAN_REVOKED');
      assert.equal(revokedSearch.json.matches, undefined);
      const revokedGrant = await grant(tokens.revoked, revokedHandle);
      assert.equal(revokedGrant.status, 403);
      assert.equal(errorOf(revokedGrant).code, 'CLINICIAN_REVOKED');

      const lost = newDevice();
      const lostToken = await registerDevice(db, 'dr.other', lost.asCache);
      const lostHandle = await handleFor(lostToken, 'gl-tgt1');
      await revokeDevice(db, lost.id, clock);
      for (const r of [await search(lostToken, familyOf('gl-tgt1')), await grant(lostToken, lostHandle)]) {
        assert.equal(r.status, 403);
        assert.equal(errorOf(r).code, 'DEVICE_REVOKED');
      }
      assert.deepEqual(await db.selectFrom('glass_grants').selectAll().where('clinician_id', 'in', ['dr.revoked', 'dr.glass', 'dr.other']).execute(), [], 'nothing granted');
    });

    test('breaking the glass needs a reason (a bad one leaves the handle usable) and the caller\'s own live, unused handle; every refusal is one answer', async () => {
      const handle = await handleFor(tokens.glass, 'gl-tgt1');
      for (const bad of [NO_REASON, null, { code: 'other', text: '' }, { code: 'curiosity', text: 'x' }, { code: 'emergency-treatment' }, { code: 'emergency-treatment', text: 'x'.repeat(501) }]) {
        const r = await grant(tokens.glass, handle, bad);
        assert.equal(r.status, 400, String(JSON.stringify(bad)));
        assert.deepEqual(errorOf(r), { code: 'GLASS_REFUSED', message: GLASS_REASON_MESSAGE });
      }
      const unknown = await grant(tokens.glass, randomBytes(32).toString('base64url'));
      assert.equal(unknown.status, 403);
      assert.deepEqual(errorOf(unknown), { code: 'GLASS_REFUSED', message: GLASS_REFUSED_MESSAGE });
      for (const [who, token] of [
        ['another clinician', tokens.other],
        ['the same clinician on another device', tokens.glassOtherDevice],
      ] as const) {
        const foreign = await grant(token, handle);
        assert.equal(foreign.status, 403, who);
        assert.deepEqual(foreign.json, unknown.json, `${who}: the same answer as an unknown handle`);
      }
      const malformed = await grant(tokens.glass, 'not a handle');
      assert.deepEqual(malformed.json, unknown.json);

      // The handle survived all of that: the clinician's own grant with a reason.
      const before = clock();
      const granted = await grant(tokens.glass, handle);
      assert.equal(granted.status, 200, granted.text);
      const reply = glassGrantReplySchema.parse(granted.json);
      assert.equal(reply.patientId, 'gl-tgt1');
      const minutes = (await readPolicy(db)).breakGlassMinutes;
      assert.equal(minutes, 240, 'the default policy');
      assert.ok(Math.abs(Date.parse(reply.expiresAt) - (before.getTime() + minutes * MINUTE)) < 5000, 'now + breakGlassMinutes');
      assert.deepEqual(Object.keys(granted.json).sort(), ['expiresAt', 'patientId']);

      const reused = await grant(tokens.glass, handle);
      assert.equal(reused.status, 403);
      assert.deepEqual(reused.json, unknown.json, 'a handle is used once');

      // An expired handle (11 minutes later) is refused the same way.
      const late = await handleFor(tokens.glass, 'gl-tgt4');
      offset += 11 * MINUTE;
      const expired = await grant(tokens.glass, late);
      assert.equal(expired.status, 403);
      assert.deepEqual(expired.json, unknown.json);
      assert.deepEqual(await grantRows('gl-tgt4'), []);

      // The grant, its ETREAT disclosure and the privacy flag.
      const rows = await grantRows('gl-tgt1');
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.clinician_id, 'dr.glass');
      assert.equal(rows[0]!.device_id, glassDevice.id);
      assert.equal(rows[0]!.reason_code, 'emergency-treatment');
      assert.equal(rows[0]!.reason_text, reason.text);
      assert.equal(rows[0]!.expires_at, reply.expiresAt);
      const disclosures = await db.selectFrom('disclosure_events').selectAll().where('patient_id', '=', 'gl-tgt1').execute();
      const breakEntry = disclosures.map((d) => ({ seq: Number(d.seq), e: parseCanonicalAuditEntry(d.entry)!, event: JSON.parse(d.event) as Json })).find((d) => d.e.subtype === 'break-glass');
      assert.ok(breakEntry, 'the grant is in the ledger');
      assert.equal(breakEntry.e.purpose, EMERGENCY_PURPOSE);
      assert.equal(breakEntry.e.action, 'E');
      assert.equal(breakEntry.e.actor, 'dr.glass');
      assert.deepEqual(breakEntry.e.entities, glassFacts({ reason: 'emergency-treatment', expiresAt: reply.expiresAt }));
      assert.equal(breakEntry.e.query, reason.text);
      assert.match(JSON.stringify(breakEntry.event.purposeOfEvent), /ETREAT/, 'the BALP event carries the purpose');
      const flags = await db.selectFrom('privacy_flags').selectAll().where('patient_id', '=', 'gl-tgt1').execute();
      assert.equal(flags.length, 1, 'the privacy officer sees it at once');
      assert.equal(flags[0]!.rule, 'break-glass');
      assert.equal(flags[0]!.clinician_id, 'dr.glass');
      assert.equal(flags[0]!.status, 'open');
      const evidence = JSON.parse(flags[0]!.evidence) as { refs: Array<{ kind: string; seq: number }>; numbers: Json };
      assert.deepEqual(evidence.refs, [{ kind: 'backend', seq: breakEntry.seq }]);
      assert.equal(evidence.numbers.reason, 'emergency-treatment');
      assert.doesNotMatch(flags[0]!.evidence + flags[0]!.explanation, /Unconscious/, 'never the free text in the flag');
      assert.deepEqual(await verifyDisclosureChain(db), { ok: true, entries: Number((await lastDisclosures(1))[0]!.seq) });
    });

    test('during the grant the records are served (audited ETREAT) and writable; after expiry refused like any unassigned patient; the search shows the patient restricted again', async () => {
      const patient = 'gl-tgt2';
      // Before any grant: the same refusal as for a patient that does not exist.
      const none = await call('GET', glassRecordsPath(patient), tokens.glass);
      const missing = await call('GET', glassRecordsPath('gl-no-such-patient'), tokens.glass);
      assert.equal(none.status, 403);
      assert.deepEqual(none.json, missing.json);
      assert.deepEqual(errorOf(none), { code: 'GLASS_REFUSED', message: GLASS_REFUSED_MESSAGE });

      const granted = glassGrantReplySchema.parse((await grant(tokens.glass, await handleFor(tokens.glass, patient))).json);
      const page = await call('GET', glassRecordsPath(patient), tokens.glass);
      assert.equal(page.status, 200, page.text);
      const reply = glassRecordsReplySchema.parse(page.json);
      assert.equal(reply.resources.length, 13, 'the Patient and its 12 observations');
      assert.ok(reply.resources.some((r) => r.resourceType === 'Patient' && r.id === patient));
      assert.equal(reply.more, false);
      assert.equal(reply.expiresAt, granted.expiresAt);
      // Resumed from its cursor: only what changed since.
      const again = glassRecordsReplySchema.parse((await call('GET', `${glassRecordsPath(patient)}?cursor=${encodeURIComponent(reply.cursor!)}`, tokens.glass)).json);
      assert.deepEqual(again.resources, []);
      // Every disclosure for the patient in the window is ETREAT: the pages and a single read.
      const read = await call('GET', `/v1/fhir/Observation/${patient}-o0`, tokens.glass);
      assert.equal(read.status, 200);
      const inWindow = (await db.selectFrom('disclosure_events').select('entry').where('patient_id', '=', patient).execute()).map((r) => parseCanonicalAuditEntry(r.entry)!);
      assert.ok(inWindow.length >= 3);
      for (const e of inWindow) assert.equal(e.purpose, EMERGENCY_PURPOSE, `${e.subtype}: ETREAT`);
      // The active grants.
      const active = glassActiveReplySchema.parse((await call('GET', GLASS_GRANTS_PATH, tokens.glass)).json);
      assert.ok(active.grants.some((g) => g.patientId === patient && g.expiresAt === granted.expiresAt));
      assert.deepEqual((await call('GET', GLASS_GRANTS_PATH, tokens.other)).json, { grants: [] }, 'another clinician has none');
      // Another clinician gets nothing through the grant.
      const foreign = await call('GET', glassRecordsPath(patient), tokens.other);
      assert.deepEqual(foreign.json, missing.json);
      // Writes: a pushed change (the device key's sync session) is authorized by the grant.
      const stored = await db.selectFrom('resources').select(['json', 'version_id']).where('id', '=', `${patient}-o1`).executeTakeFirstOrThrow();
      const change = (version: number) => ({
        idempotencyKey: randomUUID(),
        resourceType: 'Observation',
        id: `${patient}-o1`,
        baseVersion: String(version),
        resource: { ...(JSON.parse(stored.json) as Json), resourceType: 'Observation', id: `${patient}-o1`, valueQuantity: { value: 140, unit: '/min' } },
      });
      const pushed = await call('POST', PUSH_PATH, tokens.glassSync, { changes: [change(Number(stored.version_id))] });
      assert.equal((pushed.json.results as ChangeResult[])[0]!.status, 'applied', pushed.text);

      // The grant ends.
      offset = Date.parse(granted.expiresAt) - Date.now() + 1000;
      const after = await call('GET', glassRecordsPath(patient), tokens.glass);
      assert.equal(after.status, 403);
      assert.deepEqual(after.json, missing.json, 'after expiry: the same answer as never granted');
      const readAfter = await call('GET', `/v1/fhir/Observation/${patient}-o0`, tokens.glass);
      assert.equal(readAfter.status, 404);
      const pushedAfter = await call('POST', PUSH_PATH, tokens.glassSync, { changes: [change(Number(stored.version_id) + 1)] });
      assert.deepEqual((pushedAfter.json.results as ChangeResult[])[0], { idempotencyKey: (pushedAfter.json.results as ChangeResult[])[0]!.idempotencyKey, status: 'refused', reason: 'Not found among your patients.' });
      assert.ok(!glassActiveReplySchema.parse((await call('GET', GLASS_GRANTS_PATH, tokens.glass)).json).grants.some((g) => g.patientId === patient));
      const restricted = await search(tokens.glass, familyOf(patient));
      assert.equal((restricted.json.matches as Json[]).length, 1, 'restricted again');
    });

    test('device audit entries under a grant upload; an ETREAT entry outside any grant is stored flagged, not refused', async () => {
      const patient = 'gl-tgt3';
      const granted = glassGrantReplySchema.parse((await grant(tokens.glass, await handleFor(tokens.glass, patient))).json);
      const device = new HandBuiltDevice('dr.glass');
      const token = await device.register(db);
      const upload = (body: AuditUpload) => call('POST', AUDIT_UPLOAD_PATH, token, body);
      const during = clock().toISOString();
      const ok = await upload(
        device.upload([
          { recordedAt: during, patientId: patient, purpose: EMERGENCY_PURPOSE },
          { recordedAt: during, patientId: patient, action: 'E', subtype: 'break-glass', entities: glassFacts({ reason: 'emergency-treatment', expiresAt: granted.expiresAt }), query: 'text', purpose: EMERGENCY_PURPOSE },
          { recordedAt: during, patientId: OWN, purpose: EMERGENCY_PURPOSE },
        ]),
      );
      assert.equal(ok.status, 200, ok.text);
      const events = (await db.selectFrom('audit_entries').select(['seq', 'event']).where('device_id', '=', device.id).orderBy('seq').execute()).map((r) => JSON.stringify(r.event));
      assert.doesNotMatch(events[0]!, new RegExp(EMERGENCY_WITHOUT_GRANT_EXTENSION), 'under the grant: not flagged');
      assert.doesNotMatch(events[0]! + events[1]!, new RegExp(AFTER_ASSIGNMENT_EXTENSION));
      assert.match(events[2]!, new RegExp(EMERGENCY_WITHOUT_GRANT_EXTENSION), 'ETREAT for a patient without a grant: flagged');
      // A patient never assigned nor granted is still refused (the grant is the clinician's, for that patient only).
      const other = await upload(device.upload([{ recordedAt: during, patientId: 'gl-tgt4', purpose: EMERGENCY_PURPOSE }]));
      assert.equal(other.status, 400);
      assert.equal(errorOf(other).code, 'AUDIT_CHAIN_INVALID');
    });

    test('one handle redeemed by many requests at once grants exactly once', async () => {
      const handle = await handleFor(tokens.glass, 'gl-tgt4');
      const answers = await Promise.all(Array.from({ length: 8 }, () => grant(tokens.glass, handle)));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 403, 403, 403, 403, 403, 403, 403]);
      assert.equal((await grantRows('gl-tgt4')).length, 1);
      const breaks = (await db.selectFrom('disclosure_events').select('entry').where('patient_id', '=', 'gl-tgt4').execute()).filter((r) => parseCanonicalAuditEntry(r.entry)!.subtype === 'break-glass');
      assert.equal(breaks.length, 1, 'one grant, one ledger entry');
    });

    test('restricted search and grants are rate-limited per clinician', async () => {
      const limited = buildApp({
        db,
        rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock),
        clock,
        receiptKey: loadReceiptKey(dir.path),
        glass: { searchPerMinute: 3, grantPerMinute: 2 },
      });
      const limitedUrl = await limited.listen({ port: 0, host: '127.0.0.1' });
      try {
        const post = (path: string, token: string, body: unknown) =>
          fetch(limitedUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        for (let i = 0; i < 3; i++) assert.equal((await post(GLASS_SEARCH_PATH, tokens.rate, { query: 'Synthetic' })).status, 200);
        const hit = await post(GLASS_SEARCH_PATH, tokens.rate, { query: 'Synthetic' });
        assert.equal(hit.status, 429);
        assert.ok(hit.headers.get('retry-after'));
        assert.equal(((await hit.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
        assert.equal((await post(GLASS_SEARCH_PATH, tokens.other, { query: 'Synthetic' })).status, 200, 'another clinician is not limited by it');
        for (let i = 0; i < 2; i++) assert.equal((await post(GLASS_GRANTS_PATH, tokens.rate, { handle: randomBytes(32).toString('base64url'), reason })).status, 403);
        assert.equal((await post(GLASS_GRANTS_PATH, tokens.rate, { handle: randomBytes(32).toString('base64url'), reason })).status, 429, 'guessing handles is limited too');
      } finally {
        await limited.close();
      }
    });
  });
}
