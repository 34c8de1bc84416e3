/**
 * Backend sessions, on SQLite and on PostgreSQL, with real passkeys: a
 * session is bound to the passkey or device key that made it, so revoking
 * that passkey, the device or the clinician ends it at once (a revoked
 * device's or clinician's session keeps answering 403 with the code the
 * desktop wipes on; one revoked passkey answers 401 and leaves the
 * clinician's other passkeys working); logout ends the caller's session;
 * an idle session ends on the server (policy, default 30 minutes) besides
 * the absolute 12 hours; a revocation also stops a request whose body was
 * still arriving (the session is checked again once the body is read).
 * Time is the injected clock, never a sleep.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { PassThrough } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { assignPatients } from '../server/organisation/assignments';
import { addClinician, readPolicy, revokeClinician, revokeCredential, revokeDevice, setPolicy } from '../server/organisation/organisation';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { openBackendDb } from './support/backend-db';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';
import { Authenticator, call, deviceSession, enroll, errorCode, newDevice, post, signIn, type TestDevice } from './support/passkey-ceremony';

let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
});

const HIGH = { signInPerClinician: 10_000, enrollPerClinician: 10_000, devicePerDevice: 10_000, perIp: 10_000 };

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`sessions on ${engine}`, () => {
    let now = Date.parse('2026-11-25T09:00:00Z');
    const clock = () => new Date(now);
    const dir = scratchDir('sessions');
    let closeDb: (() => Promise<void>) | null = null;
    let db: Db;
    let app: FastifyInstance;
    let url: string;
    const opened: Authenticator[] = [];
    /** A fresh platform authenticator (Chromium's virtual one holds only three resident passkeys). */
    const authenticator = async () => {
      const a = await Authenticator.open(browser, renderer.origin);
      opened.push(a);
      return a;
    };

    const me = (token: string) => call(url, 'GET', '/v1/me', { token });

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      for (const id of ['dr.ada', 'dr.bo', 'dr.cy', 'dr.dee']) await addClinician(db, id, id, clock);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock), clock, receiptKey: loadReceiptKey(dir.path), rateLimits: HIGH });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    after(async () => {
      for (const a of opened) await a.close();
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('the default policy ends idle sessions after 30 minutes and requires PRF', async () => {
      const policy = await readPolicy(db);
      assert.equal((policy as { sessionIdleMinutes?: number }).sessionIdleMinutes, 30);
      assert.equal(policy.requirePrf, true);
    });

    test('revoking the passkey that made a session ends it (401); the clinician\'s other passkey keeps its session', async () => {
      const [first, second] = [await authenticator(), await authenticator()];
      const device = newDevice();
      const a = await enroll(url, db, clock, first, 'dr.ada', device);
      const b = await enroll(url, db, clock, second, 'dr.ada', device);
      const signedInWithA = await signIn(url, first, 'dr.ada', device.id);
      assert.equal(signedInWithA.status, 200, signedInWithA.text);
      const tokenA = signedInWithA.json.token as string;
      for (const token of [a.token, tokenA, b.token]) assert.equal((await me(token)).status, 200);

      await revokeCredential(db, a.credentialId, clock);

      for (const token of [a.token, tokenA]) {
        const r = await me(token);
        assert.equal(r.status, 401, 'a session made with the revoked passkey is over');
        assert.equal(errorCode(r), 'SESSION_INVALID');
      }
      assert.equal((await me(b.token)).status, 200, 'the other passkey\'s session is untouched');
      const again = await signIn(url, second, 'dr.ada', device.id);
      assert.equal(again.status, 200, 'the other passkey still signs in');
    });

    test('revoking a device ends its passkey and device-key sessions at once: 403 DEVICE_REVOKED', async () => {
      const [first, second] = [await authenticator(), await authenticator()];
      const device = newDevice();
      const full = await enroll(url, db, clock, first, 'dr.bo', device);
      const sync = await deviceSession(url, device);
      assert.equal(sync.status, 200, sync.text);
      const other = newDevice();
      const otherFull = await enroll(url, db, clock, second, 'dr.bo', other);

      await revokeDevice(db, device.id, clock);

      const ended = await db.selectFrom('sessions').select(['token_hash']).where('device_id', '=', device.id).where('ended_at', 'is', null).execute();
      assert.equal(ended.length, 0, 'no live session of the revoked device is left');
      const r = await me(full.token);
      assert.equal(r.status, 403);
      assert.equal(errorCode(r), 'DEVICE_REVOKED');
      const pushed = await post(url, '/v1/sync/push', { changes: [] }, sync.json.token as string);
      assert.equal(pushed.status, 403);
      assert.equal(errorCode(pushed), 'DEVICE_REVOKED');
      assert.equal((await me(otherFull.token)).status, 200, 'the clinician\'s other device keeps working');
    });

    test('a device revoked while its push, PUT or audit upload body is still arriving gets 403 DEVICE_REVOKED and nothing is stored', async () => {
      const device = newDevice();
      const { token } = await enroll(url, db, clock, await authenticator(), 'dr.dee', device);
      const patient = `p-${randomUUID()}`;
      await assignPatients(db, 'dr.dee', [patient], clock);
      // A second app on the same database whose every request reports when its onRequest checks are done (preParsing runs next, before the body).
      const gated = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock), clock, receiptKey: loadReceiptKey(dir.path), rateLimits: HIGH });
      let headersChecked: () => void = () => undefined;
      gated.addHook('preParsing', async (_request, _reply, payload) => {
        headersChecked();
        return payload;
      });
      await gated.ready();
      const note = (id: string) => ({ resourceType: 'Composition', id, status: 'final', subject: { reference: `Patient/${patient}` }, title: 'written after revocation' });
      const requests = [
        { method: 'POST' as const, url: '/v1/sync/push', headers: {}, body: { changes: [{ idempotencyKey: randomUUID(), resourceType: 'Composition', id: 'late-push', baseVersion: null, resource: note('late-push') }] } },
        { method: 'PUT' as const, url: '/v1/fhir/Composition/late-put', headers: { 'idempotency-key': randomUUID() }, body: note('late-put') },
        { method: 'POST' as const, url: '/v1/audit/upload', headers: {}, body: { entries: [], head: { seq: 0, hash: '0'.repeat(64), signature: 'AA==' } } },
      ];
      try {
        // Revoked while the first request's body trickles in; the token was live when its headers arrived.
        for (const [i, r] of requests.entries()) {
          const device2 = i === 0 ? device : newDevice();
          const live = i === 0 ? token : (await enroll(url, db, clock, await authenticator(), 'dr.dee', device2)).token;
          const body = new PassThrough();
          const checked = new Promise<void>((resolve) => (headersChecked = resolve));
          const text = JSON.stringify(r.body);
          const answer = gated.inject({ method: r.method, url: r.url, payload: body, headers: { ...r.headers, authorization: `Bearer ${live}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } });
          body.write(text.slice(0, 10));
          await checked;
          await revokeDevice(db, device2.id, clock);
          body.end(text.slice(10));
          const a = await answer;
          assert.equal(a.statusCode, 403, `${r.method} ${r.url}: ${a.body}`);
          assert.equal(a.json().error.code, 'DEVICE_REVOKED');
        }
        const stored = await db.selectFrom('resources').select(['id']).where('id', 'in', ['late-push', 'late-put']).execute();
        assert.deepEqual(stored, [], 'nothing written after the revocation');
      } finally {
        await gated.close();
      }
    });

    test('revoking a clinician ends every session of theirs at once: 403 CLINICIAN_REVOKED', async () => {
      const first = await authenticator();
      const device = newDevice();
      const full = await enroll(url, db, clock, first, 'dr.cy', device);
      const sync = await deviceSession(url, device);
      assert.equal(sync.status, 200, sync.text);

      await revokeClinician(db, 'dr.cy', clock);

      const live = await db.selectFrom('sessions').select(['token_hash']).where('clinician_id', '=', 'dr.cy').where('ended_at', 'is', null).execute();
      assert.equal(live.length, 0, 'no live session of the revoked clinician is left');
      for (const r of [await me(full.token), await post(url, '/v1/sync/push', { changes: [] }, sync.json.token as string)]) {
        assert.equal(r.status, 403);
        assert.equal(errorCode(r), 'CLINICIAN_REVOKED');
      }
    });

    test('logout ends the caller\'s session (any scope) and is idempotent; without a token it is refused', async () => {
      const first = await authenticator();
      const device = newDevice();
      const full = await enroll(url, db, clock, first, 'dr.dee', device);
      const sync = await deviceSession(url, device);
      const keep = await signIn(url, first, 'dr.dee', device.id);
      assert.equal(keep.status, 200, keep.text);

      const out = await post(url, '/v1/session/logout', {}, full.token);
      assert.equal(out.status, 200, out.text);
      assert.deepEqual(out.json, { ended: true });
      assert.equal(errorCode(await me(full.token)), 'SESSION_INVALID');
      assert.deepEqual((await post(url, '/v1/session/logout', {}, full.token)).json, { ended: false }, 'a second logout changes nothing');

      const syncOut = await call(url, 'POST', '/v1/session/logout', { token: sync.json.token as string });
      assert.deepEqual(syncOut.json, { ended: true }, 'a sync-only session may log out, with no body at all');
      assert.equal(errorCode(await post(url, '/v1/sync/push', { changes: [] }, sync.json.token as string)), 'SESSION_INVALID');

      assert.equal((await me(keep.json.token as string)).status, 200, 'other sessions of the same clinician and device go on');
      const anonymous = await post(url, '/v1/session/logout', {});
      assert.equal(anonymous.status, 401);
      assert.equal(errorCode(anonymous), 'SESSION_INVALID');
    });

    test('an idle session ends on the server: 29 minutes idle is fine, 31 is over; use refreshes it at most once a minute', async () => {
      const first = await authenticator();
      const device = newDevice();
      await addClinician(db, 'dr.eve', 'Eve', clock);
      const { token } = await enroll(url, db, clock, first, 'dr.eve', device);
      const lastUsed = async () => (await db.selectFrom('sessions').select(['last_used_at']).where('device_id', '=', device.id).executeTakeFirstOrThrow()).last_used_at;

      now += 29 * 60_000;
      assert.equal((await me(token)).status, 200, '29 minutes idle');
      const refreshed = await lastUsed();
      assert.equal(refreshed, new Date(now).toISOString(), 'the request refreshed last use');
      now += 30_000;
      assert.equal((await me(token)).status, 200);
      assert.equal(await lastUsed(), refreshed, 'not written again within a minute');

      now += 29 * 60_000;
      assert.equal((await me(token)).status, 200, '29 more minutes idle after the last use');
      now += 31 * 60_000;
      const r = await me(token);
      assert.equal(r.status, 401, '31 minutes idle');
      assert.equal(errorCode(r), 'SESSION_INVALID');
    });

    test('the organisation may shorten the idle expiry; the absolute 12 hours still hold for a busy session', async () => {
      const first = await authenticator();
      const device = newDevice();
      await addClinician(db, 'dr.fay', 'Fay', clock);
      await setPolicy(db, 'sessionIdleMinutes' as never, 5);
      try {
        const idle = await enroll(url, db, clock, first, 'dr.fay', device);
        now += 6 * 60_000;
        assert.equal(errorCode(await me(idle.token)), 'SESSION_INVALID', '6 minutes idle with a 5-minute policy');
      } finally {
        await setPolicy(db, 'sessionIdleMinutes' as never, 30);
      }
      const busy = await signIn(url, first, 'dr.fay', device.id);
      assert.equal(busy.status, 200, busy.text);
      for (let minutes = 20; minutes < 12 * 60; minutes += 20) {
        now += 20 * 60_000;
        assert.equal((await me(busy.json.token as string)).status, 200, `busy after ${minutes} minutes`);
      }
      now += 20 * 60_000;
      assert.equal(errorCode(await me(busy.json.token as string)), 'SESSION_INVALID', 'over 12 hours');
    });

    test('expired and ended sessions are purged when new ones are made', async () => {
      const first = await authenticator();
      const device: TestDevice = newDevice();
      await addClinician(db, 'dr.gus', 'Gus', clock);
      const { token } = await enroll(url, db, clock, first, 'dr.gus', device);
      await post(url, '/v1/session/logout', {}, token);
      now += 13 * 60 * 60_000;
      const fresh = await signIn(url, first, 'dr.gus', device.id);
      assert.equal(fresh.status, 200, fresh.text);
      const stale = await db.selectFrom('sessions').select(['token_hash']).where('expires_at', '<=', new Date(now).toISOString()).execute();
      assert.equal(stale.length, 0, 'no expired session row is left');
    });

    test('the purge pass (the app runs it on a timer) removes idle sessions and expired challenges', async () => {
      const first = await authenticator();
      const device = newDevice();
      await addClinician(db, 'dr.hal', 'Hal', clock);
      const rp = new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock);
      await enroll(url, db, clock, first, 'dr.hal', device);
      await post(url, '/v1/auth/options', { clinicianId: 'dr.hal' });
      const rows = async () => ({
        sessions: (await db.selectFrom('sessions').select('token_hash').where('device_id', '=', device.id).execute()).length,
        challenges: (await db.selectFrom('challenges').select('challenge').where('clinician_id', '=', 'dr.hal').execute()).length,
      });
      assert.deepEqual(await rows(), { sessions: 1, challenges: 1 });
      now += 31 * 60_000;
      await rp.purgeExpired();
      assert.deepEqual(await rows(), { sessions: 0, challenges: 0 });
    });
  });
}
