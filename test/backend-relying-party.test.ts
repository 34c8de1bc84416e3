/**
 * The backend as WebAuthn relying party, on SQLite and on PostgreSQL, with
 * real passkeys from a Chromium virtual authenticator. Every bad input is
 * refused with a clear error and leaves stored state as it was: a replayed
 * assertion, a reused or expired challenge, a wrong origin or rpId, a
 * counter that goes backwards, an unknown credential, a tampered or spent
 * enrollment code, a revoked device (told only after a valid proof), an
 * unknown device (refused like a forged signature). (A challenge is burned
 * by the first attempt that names it; that is the only thing a bad attempt
 * may change.)
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, randomBytes, generateKeyPairSync, sign } from 'node:crypto';
import { deviceSessionMessage } from '../shared/backend-api';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { addClinician, createEnrollmentCode, formatEnrollmentCode, revokeCredential, revokeDevice, setPolicy } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { openBackendDb } from './support/backend-db';
import { SYNTHEA_DIR } from './support/synthea';
import { addVirtualAuthenticator } from './support/virtual-authenticator';
import { addWebAuthnHelper, launchChromium, serveRenderer, type RendererServer } from './browser/harness';

type Json = Record<string, unknown>;
let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
});

async function post(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: Json }> {
  const r = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Json };
}

const errorCode = (r: { json: Json }) => (r.json.error as { code: string } | undefined)?.code;

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`relying party on ${engine}`, () => {
    let now = Date.parse('2026-11-25T09:00:00Z');
    const clock = () => new Date(now);
    const dir = scratchDir('rp');
    let closeDb: (() => Promise<void>) | null = null;
    let db: Db;
    let app: FastifyInstance;
    let url: string;
    let page: Page;
    const deviceId = randomUUID();
    const deviceKeys = generateKeyPairSync('ed25519');
    const devicePublicKey = deviceKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
    let assigned: string[] = [];
    let enrolled: { token: string; credentialId: string };

    const rpConfig = () => ({ rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] });

    async function snapshot() {
      const creds = await db.selectFrom('credentials').select(['id', 'counter', 'revoked_at']).orderBy('id').execute();
      const sessions = await db.selectFrom('sessions').select(['token_hash']).execute();
      const devices = await db.selectFrom('devices').select(['id', 'revoked_at']).orderBy('id').execute();
      const codes = await db.selectFrom('enrollment_codes').select(['code_hash', 'used_at']).orderBy('code_hash').execute();
      return JSON.stringify({ creds: creds.map((c) => ({ ...c, counter: Number(c.counter) })), sessions: sessions.length, devices, codes });
    }

    async function enrollOnce(clinicianId = 'dr.ada') {
      const code = formatEnrollmentCode(await createEnrollmentCode(db, clinicianId, clock));
      const opts = await post(url, '/v1/enroll/options', { clinicianId, code });
      assert.equal(opts.status, 200, JSON.stringify(opts.json));
      const created = (await page.evaluate((o) => (globalThis as never as { __webauthn: { createPasskey(o: unknown): Promise<Json> } }).__webauthn.createPasskey(o), opts.json.options)) as {
        response: Json;
        prfOutput?: string;
      };
      return { code, created };
    }

    async function assertion(): Promise<{ options: Json; response: Json }> {
      const opts = await post(url, '/v1/auth/options', { clinicianId: 'dr.ada' });
      assert.equal(opts.status, 200, JSON.stringify(opts.json));
      const used = (await page.evaluate((o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<Json> } }).__webauthn.usePasskey(o), opts.json.options)) as { response: Json };
      return { options: opts.json.options as Json, response: used.response };
    }

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const patientIds = await loadBundles(db, bundleFiles([SYNTHEA_DIR]));
      await addClinician(db, 'dr.ada', 'Dr Ada', clock);
      assigned = patientIds.slice(0, 2);
      await assignPatients(db, 'dr.ada', assigned);
      // Many sign-ins in a few seconds from one address: limits are the front door's test, not this one's.
      app = buildApp({ db, rp: new RelyingParty(db, rpConfig(), clock), clock, receiptKey: loadReceiptKey(dir.path), rateLimits: { signInPerClinician: 10_000, enrollPerClinician: 10_000, devicePerDevice: 10_000, perIp: 10_000 } });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      page = await browser.newPage();
      await addVirtualAuthenticator(page, { prf: true });
      await addWebAuthnHelper(page);
      await page.goto(`${renderer.origin}/index.html`);
    });

    after(async () => {
      await page?.close();
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('enrolls with a one-time code and a passkey; the code is then spent', async () => {
      const { code, created } = await enrollOnce();
      assert.ok(created.prfOutput, 'the authenticator returned a PRF output');
      const body = { clinicianId: 'dr.ada', code, response: created.response, device: { id: deviceId, publicKey: devicePublicKey } };
      const ok = await post(url, '/v1/enroll/verify', body);
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal((ok.json.credential as Json).prf, true);
      enrolled = { token: ok.json.token as string, credentialId: (ok.json.credential as Json).id as string };
      const before = await snapshot();
      const again = await post(url, '/v1/enroll/verify', body);
      assert.equal(errorCode(again), 'ENROLLMENT_CODE_INVALID');
      assert.equal(await snapshot(), before);
    });

    test('a tampered enrollment code is refused and changes nothing; the real one still works', async () => {
      const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.ada', clock));
      const tampered = (code[0] === 'A' ? 'B' : 'A') + code.slice(1);
      const before = await snapshot();
      for (const bad of [tampered, code.slice(0, -1), 'AAAA-AAAA-AAAA', '<script>', '']) {
        const r = await post(url, '/v1/enroll/options', { clinicianId: 'dr.ada', code: bad });
        assert.ok(['ENROLLMENT_CODE_INVALID', 'INVALID_REQUEST'].includes(errorCode(r)!), bad);
      }
      assert.equal(await snapshot(), before);
      assert.equal((await post(url, '/v1/enroll/options', { clinicianId: 'dr.ada', code })).status, 200);
    });

    test('an enrollment code expires after 15 minutes', async () => {
      const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.ada', clock));
      now += 16 * 60_000;
      assert.equal(errorCode(await post(url, '/v1/enroll/options', { clinicianId: 'dr.ada', code })), 'ENROLLMENT_CODE_INVALID');
    });

    test('signs in with user verification; the signature counter advances; patients are served to the session', async () => {
      const { response } = await assertion();
      const counterBefore = Number((await db.selectFrom('credentials').select('counter').where('id', '=', enrolled.credentialId).executeTakeFirstOrThrow()).counter);
      const r = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const counterAfter = Number((await db.selectFrom('credentials').select('counter').where('id', '=', enrolled.credentialId).executeTakeFirstOrThrow()).counter);
      assert.ok(counterAfter > counterBefore);
      const pulled = (await (await fetch(`${url}/v1/sync/pull`, { headers: { authorization: `Bearer ${r.json.token as string}` } })).json()) as { resources: Array<{ resourceType: string }> };
      assert.equal(pulled.resources.filter((e) => e.resourceType === 'Patient').length, 2, 'only the assigned patients');
      assert.equal((await fetch(`${url}/v1/sync/pull`)).status, 401);
    });

    test('a passkey without PRF is refused at enrollment and at sign-in while requirePrf holds (the default); once relaxed, a clinician may hold a second passkey', async () => {
      const second = await browser.newPage();
      try {
        await addVirtualAuthenticator(second, { prf: false });
        await addWebAuthnHelper(second);
        await second.goto(`${renderer.origin}/index.html`);
        const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.ada', clock));
        const enrollWith = async () => {
          const opts = await post(url, '/v1/enroll/options', { clinicianId: 'dr.ada', code });
          assert.equal(opts.status, 200, JSON.stringify(opts.json));
          const created = (await second.evaluate((o) => (globalThis as never as { __webauthn: { createPasskey(o: unknown): Promise<Json> } }).__webauthn.createPasskey(o), opts.json.options)) as { response: Json; prfOutput?: string };
          assert.equal(created.prfOutput, undefined, 'no PRF on this authenticator');
          return post(url, '/v1/enroll/verify', { clinicianId: 'dr.ada', code, response: created.response, device: { id: deviceId, publicKey: devicePublicKey } });
        };
        const before = await snapshot();
        const refused = await enrollWith();
        assert.equal(refused.status, 403);
        assert.equal(errorCode(refused), 'PRF_REQUIRED');
        assert.equal(await snapshot(), before, 'no credential, session or spent code for a refused passkey');

        await setPolicy(db, 'requirePrf', false);
        const r = await enrollWith();
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal((r.json.credential as Json).prf, false);
        const active = await db.selectFrom('credentials').select('id').where('clinician_id', '=', 'dr.ada').where('revoked_at', 'is', null).execute();
        assert.equal(active.length, 2);

        // The organisation requires PRF again: that passkey no longer signs in, the PRF one still does.
        await setPolicy(db, 'requirePrf', true);
        const opts = await post(url, '/v1/auth/options', { clinicianId: 'dr.ada' });
        const used = (await second.evaluate((o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<Json> } }).__webauthn.usePasskey(o), opts.json.options)) as { response: Json };
        const sessionsBefore = await snapshot();
        const signIn = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response: used.response });
        assert.equal(signIn.status, 403);
        assert.equal(errorCode(signIn), 'PRF_REQUIRED');
        assert.equal(JSON.parse(await snapshot()).sessions, JSON.parse(sessionsBefore).sessions, 'no session for it');
        assert.equal((await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response: (await assertion()).response })).status, 200);
      } finally {
        await second.close();
      }
    });

    test('a replayed assertion and a reused challenge are refused and change nothing', async () => {
      const { options, response } = await assertion();
      const body = { clinicianId: 'dr.ada', deviceId, response };
      assert.equal((await post(url, '/v1/auth/verify', body)).status, 200);
      const before = await snapshot();
      assert.equal(errorCode(await post(url, '/v1/auth/verify', body)), 'CHALLENGE_INVALID', 'replayed assertion');
      const resigned = (await page.evaluate((o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<Json> } }).__webauthn.usePasskey(o), options)) as { response: Json };
      assert.equal(errorCode(await post(url, '/v1/auth/verify', { ...body, response: resigned.response })), 'CHALLENGE_INVALID', 'reused challenge');
      assert.equal(await snapshot(), before);
    });

    test('an expired challenge is refused', async () => {
      const { response } = await assertion();
      now += 6 * 60_000;
      const before = await snapshot();
      assert.equal(errorCode(await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response })), 'CHALLENGE_INVALID');
      assert.equal(await snapshot(), before);
    });

    test('an assertion for another origin or another rpId is refused', async () => {
      for (const config of [
        { rpId: 'localhost', rpName: 'Test', origins: ['https://clinician.hospital.example'] },
        { rpId: 'hospital.example', rpName: 'Test', origins: [renderer.origin] },
      ]) {
        const { response } = await assertion();
        const before = await snapshot();
        const other = new RelyingParty(db, config, clock);
        await assert.rejects(other.authenticationVerify({ clinicianId: 'dr.ada', deviceId, response: response as never }), (e: { code?: string }) => e.code === 'ASSERTION_INVALID');
        assert.equal(await snapshot(), before);
      }
    });

    test('a signature counter that goes backwards is refused', async () => {
      await db.updateTable('credentials').set({ counter: 1_000_000 }).where('id', '=', enrolled.credentialId).execute();
      const { response } = await assertion();
      const before = await snapshot();
      assert.equal(errorCode(await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response })), 'COUNTER_REPLAY');
      assert.equal(await snapshot(), before);
      await db.updateTable('credentials').set({ counter: 0 }).where('id', '=', enrolled.credentialId).execute();
    });

    test('a revoked passkey is refused; the clinician\'s other passkey is not affected', async () => {
      const { response } = await assertion();
      await revokeCredential(db, enrolled.credentialId, clock);
      const r = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response });
      assert.equal(errorCode(r), 'CREDENTIAL_UNKNOWN');
      const remaining = await db.selectFrom('credentials').select('id').where('clinician_id', '=', 'dr.ada').where('revoked_at', 'is', null).execute();
      assert.equal(remaining.length, 1);
      await db.updateTable('credentials').set({ revoked_at: null }).where('id', '=', enrolled.credentialId).execute();
    });

    test('an unknown credential is refused', async () => {
      const { response } = await assertion();
      const fakeId = randomBytes(32).toString('base64url');
      const before = await snapshot();
      const r = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response: { ...response, id: fakeId, rawId: fakeId } });
      assert.equal(errorCode(r), 'CREDENTIAL_UNKNOWN');
      assert.equal(await snapshot(), before);
    });

    test('garbled and hostile bodies get INVALID_REQUEST, never a 500', async () => {
      const before = await snapshot();
      const bodies: unknown[] = [null, [], 'x', { clinicianId: 'DR ADA', code: 'x' }, { clinicianId: 'dr.ada', deviceId, response: { id: 'a' } }, { clinicianId: 'dr.ada', deviceId, response: { id: '!!', rawId: '!!', type: 'public-key', response: {}, clientExtensionResults: {} } }];
      for (const body of bodies) {
        for (const path of ['/v1/enroll/options', '/v1/enroll/verify', '/v1/auth/options', '/v1/auth/verify']) {
          const r = await post(url, path, body);
          assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}`);
        }
      }
      const raw = await fetch(`${url}/v1/auth/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"clinicianId": "dr.ada", ' });
      assert.equal(raw.status, 400);
      const huge = await fetch(`${url}/v1/auth/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }) });
      assert.equal(huge.status, 413);
      assert.equal(await snapshot(), before);
    });

    test('the device key alone gets a sync-only session (push, not pull); forged, replayed or unknown-device proofs are refused', async () => {
      const proof = (challenge: string, key = deviceKeys.privateKey) => sign(null, Buffer.from(deviceSessionMessage(deviceId, challenge)), key).toString('base64');
      const opts = await post(url, '/v1/auth/device/options', { deviceId });
      assert.equal(opts.status, 200, JSON.stringify(opts.json));
      const challenge = opts.json.challenge as string;
      const sessionsBefore = await snapshot();
      const forged = await post(url, '/v1/auth/device/verify', { deviceId, challenge, signature: proof(challenge, generateKeyPairSync('ed25519').privateKey) });
      assert.equal(forged.status, 401);
      assert.equal(errorCode(forged), 'DEVICE_SIGNATURE_INVALID');
      assert.equal(await snapshot(), sessionsBefore, 'a forged proof creates no session');
      const ok = await post(url, '/v1/auth/device/verify', { deviceId, challenge, signature: proof(challenge) });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      const replay = await post(url, '/v1/auth/device/verify', { deviceId, challenge, signature: proof(challenge) });
      assert.equal(errorCode(replay), 'CHALLENGE_INVALID');
      // An unknown device gets a challenge like any other (issue 8: no DEVICE_UNKNOWN before a proof), then the same refusal as a forged signature.
      const strangerId = randomUUID();
      const strangerOpts = await post(url, '/v1/auth/device/options', { deviceId: strangerId });
      assert.equal(strangerOpts.status, 200);
      const strangerChallenge = strangerOpts.json.challenge as string;
      const stranger = await post(url, '/v1/auth/device/verify', {
        deviceId: strangerId,
        challenge: strangerChallenge,
        signature: sign(null, Buffer.from(deviceSessionMessage(strangerId, strangerChallenge)), generateKeyPairSync('ed25519').privateKey).toString('base64'),
      });
      assert.equal(errorCode(stranger), 'DEVICE_SIGNATURE_INVALID');

      const token = ok.json.token as string;
      const auth = { authorization: `Bearer ${token}` };
      const pulled = await fetch(`${url}/v1/sync/pull`, { headers: auth });
      assert.equal(pulled.status, 403, 'no patient data without a passkey');
      assert.equal((await fetch(`${url}/v1/me`, { headers: auth })).status, 403);
      const id = randomUUID();
      const pushed = await post(url, '/v1/sync/push', {
        changes: [{ idempotencyKey: randomUUID(), resourceType: 'Condition', id, baseVersion: null, resource: { resourceType: 'Condition', id, subject: { reference: `Patient/${assigned[0]}` }, code: { text: 'x' } } }],
      }, token);
      assert.equal(pushed.status, 200, JSON.stringify(pushed.json));
      assert.equal((pushed.json.results as Array<{ status: string }>)[0]!.status, 'applied');
    });

    test('a revoked device is refused at sign-in and on its session, and told why', async () => {
      // (The enrollment's own session ended when its passkey was revoked above: issue 8 binds sessions to their passkey.)
      const live = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response: (await assertion()).response });
      assert.equal(live.status, 200, JSON.stringify(live.json));
      const { response } = await assertion();
      await revokeDevice(db, deviceId, clock);
      const r = await post(url, '/v1/auth/verify', { clinicianId: 'dr.ada', deviceId, response });
      assert.equal(r.status, 403);
      assert.equal(errorCode(r), 'DEVICE_REVOKED');
      const me = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${live.json.token as string}` } });
      assert.equal(me.status, 403);
      assert.equal(((await me.json()) as { error: { code: string } }).error.code, 'DEVICE_REVOKED');
    });
  });
}
