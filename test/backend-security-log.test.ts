/**
 * The backend's security log, on SQLite and on PostgreSQL: failed sign-ins
 * and enrollments, refused sessions, session ends (logout, idle,
 * revocation), revocations and rate-limit hits each leave one pino JSON
 * line, with identifiers only. The lines are captured (setSecurityLogger)
 * and searched: no patient id, token, enrollment code or request body may
 * appear in any of them.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { addClinician, createEnrollmentCode, formatEnrollmentCode, revokeCredential, revokeDevice } from '../server/organisation/organisation';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import { setSecurityLogger } from '../server/monitoring/security-log';
import { scratchDir } from './support/scratch';
import { openBackendDb } from './support/backend-db';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';
import { Authenticator, call, deviceSession, enroll, newDevice, post } from './support/passkey-ceremony';

let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`security log on ${engine}`, () => {
    let now = Date.parse('2026-11-25T09:00:00Z');
    const clock = () => new Date(now);
    const dir = scratchDir('security-log');
    let closeDb: (() => Promise<void>) | null = null;
    let db: Db;
    let app: FastifyInstance;
    let url: string;
    let auth: Authenticator;
    const lines: string[] = [];

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      await addClinician(db, 'dr.log', 'Dr Log', clock);
      setSecurityLogger(
        pino(
          { base: { service: 'clinician-backend', log: 'security' } },
          new Writable({
            write(chunk: Buffer, _enc, done) {
              lines.push(...chunk.toString().split('\n').filter(Boolean));
              done();
            },
          }),
        ),
      );
      app = buildApp({
        db,
        rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock),
        clock,
        receiptKey: loadReceiptKey(dir.path),
        rateLimits: { signInPerClinician: 5, enrollPerClinician: 5, devicePerDevice: 5, perIp: 1000 },
      });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      auth = await Authenticator.open(browser, renderer.origin);
    });

    after(async () => {
      await auth?.close();
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test('security events are logged with identifiers only: no patient id, token, code or body', async () => {
      const patientId = randomUUID();
      const secrets: string[] = [patientId];

      // a failed enrollment (wrong code), then a real one
      const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.log', clock));
      const wrong = (code[0] === 'A' ? 'B' : 'A') + code.slice(1);
      secrets.push(code, code.replace(/-/g, ''), wrong, wrong.replace(/-/g, ''));
      assert.equal((await post(url, '/v1/enroll/options', { clinicianId: 'dr.log', code: wrong })).status, 400);
      const device = newDevice();
      const enrolled = await enroll(url, db, clock, auth, 'dr.log', device);
      secrets.push(enrolled.token);

      // a failed sign-in; a refused session on a URL and a body that name the patient
      const bogus = randomBytes(32).toString('base64url');
      secrets.push(bogus);
      const opts = await post(url, '/v1/auth/options', { clinicianId: 'dr.log' });
      const response = await auth.use(opts.json.options);
      assert.equal((await post(url, '/v1/auth/verify', { clinicianId: 'dr.nobody', deviceId: device.id, response })).status, 400);
      assert.equal((await call(url, 'GET', `/v1/fhir/Patient/${patientId}`, { token: bogus })).status, 401);
      const marker = `note-${randomBytes(6).toString('hex')}`;
      secrets.push(marker);
      const pushed = await post(url, '/v1/sync/push', { changes: [{ idempotencyKey: randomUUID(), resourceType: 'Condition', id: randomUUID(), baseVersion: null, resource: { resourceType: 'Condition', subject: { reference: `Patient/${patientId}` }, code: { text: marker } } }] }, bogus);
      assert.equal(pushed.status, 401);

      // logout, idle expiry, revocation of a passkey and a device
      const sync = await deviceSession(url, device);
      secrets.push(sync.json.token as string);
      assert.deepEqual((await post(url, '/v1/session/logout', {}, sync.json.token as string)).json, { ended: true });
      const idle = await deviceSession(url, device);
      secrets.push(idle.json.token as string);
      now += 31 * 60_000;
      assert.equal((await post(url, '/v1/sync/push', { changes: [] }, idle.json.token as string)).status, 401);
      await revokeCredential(db, enrolled.credentialId, clock);
      await revokeDevice(db, device.id, clock);

      // rate-limit hits
      for (let i = 0; i < 7; i++) await post(url, '/v1/auth/device/options', { deviceId: device.id });

      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const seen = (event: string, extra: Record<string, unknown> = {}) => events.some((e) => e.event === event && Object.entries(extra).every(([k, v]) => e[k] === v));
      assert.ok(seen('enrollment-failed', { clinicianId: 'dr.log', code: 'ENROLLMENT_CODE_INVALID' }), 'failed enrollment');
      assert.ok(seen('sign-in-failed', { clinicianId: 'dr.nobody', code: 'CHALLENGE_INVALID' }), 'failed sign-in');
      assert.ok(seen('session-refused', { route: '/v1/fhir/:type/:id', code: 'SESSION_INVALID' }), 'refused session, by route pattern');
      assert.ok(seen('session-ended', { what: 'logout', deviceId: device.id }), 'logout');
      assert.ok(seen('session-ended', { what: 'idle', deviceId: device.id }), 'idle expiry');
      assert.ok(seen('revoked', { what: 'passkey', credentialId: enrolled.credentialId }), 'passkey revoked');
      assert.ok(seen('session-ended', { what: 'passkey' }), 'the passkey\'s sessions ended');
      assert.ok(seen('revoked', { what: 'device', deviceId: device.id }), 'device revoked');
      assert.ok(seen('rate-limited', { route: '/v1/auth/device/options', deviceId: device.id }), 'rate-limit hit');

      const all = lines.join('\n');
      for (const secret of secrets) assert.ok(!all.includes(secret), `a secret or PHI value appears in the security log (${secret.length} chars)`);
      assert.ok(!all.includes('Patient/'), 'no resource reference');
      for (const e of events) {
        for (const key of Object.keys(e)) assert.ok(['level', 'time', 'service', 'log', 'event', 'msg', 'clinicianId', 'deviceId', 'credentialId', 'route', 'method', 'code', 'ip', 'what'].includes(key), `unexpected field ${key}`);
      }
    });
  });
}

test('CLINICIAN_SECURITY_LOG sends the security events to that file (appended), not to stderr', () => {
  const dir = scratchDir('security-log-file');
  try {
    const file = join(dir.path, 'logs', 'security.log');
    const script = `import { securityEvent } from ${JSON.stringify(join(process.cwd(), 'server/monitoring/security-log.ts'))}; securityEvent('access-refused', { clinicianId: 'dr.file', code: 'NOT_FOUND' });`;
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, CLINICIAN_SECURITY_LOG: file }, encoding: 'utf8' });
    for (const r of [run(), run()]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '', 'nothing on stderr');
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2, 'appended, one line per event');
    assert.deepEqual(lines.map((l) => [l.event, l.clinicianId, l.code]), [['access-refused', 'dr.file', 'NOT_FOUND'], ['access-refused', 'dr.file', 'NOT_FOUND']]);
  } finally {
    dir.remove();
  }
});
