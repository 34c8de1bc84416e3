/**
 * The backend's front door, on SQLite and on PostgreSQL: what an
 * unauthenticated caller can make it do. Large unauthenticated uploads are
 * refused before their bodies are read (measured on a real backend
 * process's RSS), a slow body is cut, sign-in, enrollment and device-key
 * endpoints are rate-limited, unauthenticated sign-in attempts leave no
 * rows, unknown / revoked / wrong clinicians, devices and codes get the
 * same answer as known ones until a proof is verified, every answer
 * carries security headers and `Cache-Control: no-store`, and neither a 404
 * nor a malformed URL's 400 echoes the path. Per-clinician and per-device
 * limits count per address, so nobody can lock a clinician out from
 * elsewhere; pushes and audit uploads are limited per device, and a device
 * uploads its audit chain one upload at a time.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import { request as httpsRequest } from 'node:https';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp, type AppDeps } from '../server/app';
import type { Db } from '../server/database';
import { addClinician, createEnrollmentCode, formatEnrollmentCode, revokeClinician, revokeDevice } from '../server/organisation/organisation';
import { RelyingParty } from '../server/auth/relying-party';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { openBackendDb } from './support/backend-db';
import { startBackend } from './support/backend-process';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';
import { Authenticator, call, deviceProof, deviceSession, enroll, errorCode, newDevice, post, type Answer, type Json, type TestDevice } from './support/passkey-ceremony';

let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
});

const HIGH = { signInPerClinician: 100_000, enrollPerClinician: 100_000, devicePerDevice: 100_000, perIp: 100_000 };

/** The structure of a JSON value: keys, types and string lengths, not the values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Json)[k])]));
  if (typeof value === 'string') return `string(${value.length})`;
  return typeof value;
}

/** The backend process that listens on `port`, found through /proc (its socket's inode). */
function pidListeningOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const fd of readdirSync(join('/proc', pid, 'fd'))) {
        const link = readlinkSync(join('/proc', pid, 'fd', fd));
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) return Number(pid);
      }
    } catch {
      // a process that ended or is not ours to read
    }
  }
  throw new Error(`no process listens on ${port}`);
}

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/**
 * Streams `bytes` of body without a token on a keep-alive connection (as a
 * client would: with `Connection: close` the server's early answer races
 * the reset of the unread body); resolves on the answer with what was sent.
 */
function unauthenticatedUpload(url: string, bytes: number, agent: Agent): Promise<{ status: number | null; sent: number; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = httpRequest(`${url}/v1/audit/upload`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': bytes } });
    let status: number | null = null;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ status, sent, ms: performance.now() - started });
      req.destroy();
    };
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.resume();
      res.on('end', finish);
    });
    req.on('error', finish);
    req.on('close', finish);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const pump = () => {
      while (!done && sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!done) req.end();
    };
    pump();
  });
}

/** A body sent one byte every `everyMs`; resolves when the server closes the connection, or after `maxBytes` bytes. */
function slowBody(url: string, path: string, everyMs: number, maxBytes: number): Promise<{ closedByServer: boolean; bytesSent: number; answer: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let bytesSent = 0;
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const end = (closedByServer: boolean) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ closedByServer, bytesSent, answer });
    };
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => end(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
      timer = setInterval(() => {
        if (bytesSent >= maxBytes) return end(false);
        socket.write(' ');
        bytesSent++;
      }, everyMs);
    });
  });
}

function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

function httpsHeaders(url: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/healthz`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.headers);
    });
    req.on('error', reject);
    req.end();
  });
}

const SECURITY_HEADERS = (a: Answer) => {
  assert.equal(a.headers.get('cache-control'), 'no-store');
  assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(a.headers.get('referrer-policy'), 'no-referrer');
  const csp = a.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
};

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`front door on ${engine}`, () => {
    let now = Date.parse('2026-11-25T09:00:00Z');
    const clock = () => new Date(now);
    const dir = scratchDir('front-door');
    let closeDb: (() => Promise<void>) | null = null;
    let db: Db;
    const apps: FastifyInstance[] = [];
    let url: string;
    let auth: Authenticator;
    let known: TestDevice;
    let knownPasskey: { token: string; credentialId: string };
    let patientId: string;

    /** A backend (not listening) to drive with inject: another client address, a body that arrives in parts. */
    function serveApp(extra: Partial<AppDeps> = {}): FastifyInstance {
      const app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock), clock, receiptKey: loadReceiptKey(dir.path), rateLimits: HIGH, ...extra });
      apps.push(app);
      return app;
    }

    /** A sign-in response with a made-up credential and no valid signature, naming `challenge`. */
    const fakeAssertion = (challenge: string) => {
      const id = randomBytes(32).toString('base64url');
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: renderer.origin })).toString('base64url');
      return { id, rawId: id, type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON, authenticatorData: 'AAAA', signature: 'AAAA' } };
    };

    async function serve(extra: Partial<AppDeps> = {}): Promise<string> {
      const app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: [renderer.origin] }, clock), clock, receiptKey: loadReceiptKey(dir.path), rateLimits: HIGH, ...extra });
      apps.push(app);
      return app.listen({ port: 0, host: '127.0.0.1' });
    }

    const challengeRows = async () => Number((await db.selectFrom('challenges').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      for (const id of ['dr.known', 'dr.revoked', 'dr.nopasskey']) await addClinician(db, id, id, clock);
      url = await serve();
      auth = await Authenticator.open(browser, renderer.origin);
      known = newDevice();
      knownPasskey = await enroll(url, db, clock, auth, 'dr.known', known);
      await enroll(url, db, clock, auth, 'dr.revoked', newDevice());
      await revokeClinician(db, 'dr.revoked', clock);
      patientId = randomUUID();
    });

    after(async () => {
      await auth?.close();
      for (const app of apps) await app.close();
      await closeDb?.();
      dir.remove();
    });

    test('every answer carries nosniff, no-referrer, a deny-all CSP and Cache-Control: no-store; no HSTS on plain http', async () => {
      const answers = [
        await call(url, 'GET', '/healthz'),
        await call(url, 'GET', '/v1/me', { token: knownPasskey.token }),
        await call(url, 'GET', '/v1/me'),
        await post(url, '/v1/auth/options', { clinicianId: 'dr.known' }),
        await call(url, 'GET', `/v1/nowhere/${patientId}`),
      ];
      for (const a of answers) {
        SECURITY_HEADERS(a);
        assert.equal(a.headers.get('strict-transport-security'), null);
      }
    });

    test('HSTS is sent over TLS', async () => {
      const tlsUrl = await serve({ https: selfSignedCert(dir.path) });
      const headers = await httpsHeaders(tlsUrl.replace('http:', 'https:'));
      assert.match(String(headers['strict-transport-security']), /max-age=\d+/);
      assert.equal(headers['cache-control'], 'no-store');
    });

    test('a 404 never echoes the path or the method', async () => {
      const answers = [
        await call(url, 'GET', `/v1/fhir-history/Patient/${patientId}`),
        await call(url, 'POST', `/v1/patients/${patientId}/export`, { body: { patientId } }),
        await call(url, 'GET', `/v1/${patientId}?q=${patientId}`, { token: knownPasskey.token }),
      ];
      for (const a of answers) {
        assert.equal(a.status, 404);
        assert.equal(a.text, answers[0]!.text, 'one fixed body');
        assert.ok(!a.text.includes(patientId), 'no patient id');
        assert.ok(!/GET|POST|\/v1/.test(a.text), 'no method or path');
        SECURITY_HEADERS(a);
      }
    });

    test('auth/options answers an unknown, revoked or passkey-less clinician exactly like a known one, and stores nothing for them', async () => {
      const rowsBefore = await challengeRows();
      const knownAnswer = await post(url, '/v1/auth/options', { clinicianId: 'dr.known' });
      assert.equal(await challengeRows(), rowsBefore + 1);
      for (const clinicianId of ['dr.nobody', 'dr.revoked', 'dr.nopasskey']) {
        const a = await post(url, '/v1/auth/options', { clinicianId });
        assert.equal(a.status, knownAnswer.status, clinicianId);
        assert.deepEqual(shape(a.json), shape(knownAnswer.json), clinicianId);
        const creds = (a.json.options as { allowCredentials: Json[] }).allowCredentials;
        assert.deepEqual(creds.map((c) => ({ ...c, id: 'x' })), (knownAnswer.json.options as { allowCredentials: Json[] }).allowCredentials.map((c) => ({ ...c, id: 'x' })));
        const again = await post(url, '/v1/auth/options', { clinicianId });
        assert.deepEqual((again.json.options as Json).allowCredentials, creds, 'stable across calls');
      }
      const nobody = await post(url, '/v1/auth/options', { clinicianId: 'dr.nobody' });
      assert.notEqual((nobody.json.options as Json).challenge, (knownAnswer.json.options as Json).challenge);
      const other = await post(url, '/v1/auth/options', { clinicianId: 'dr.nobody2' });
      assert.notDeepEqual((other.json.options as Json).allowCredentials, (nobody.json.options as Json).allowCredentials, 'each unknown clinician gets its own');
      assert.equal(await challengeRows(), rowsBefore + 3, 'rows only for clinicians with a passkey: dr.known once, the revoked dr.revoked twice');
    });

    test('auth/verify for an unknown clinician fails like a stale challenge; a revoked clinician learns it only after a valid assertion', async () => {
      const opts = await post(url, '/v1/auth/options', { clinicianId: 'dr.known' });
      const response = await auth.use(opts.json.options);
      const unknown = await post(url, '/v1/auth/verify', { clinicianId: 'dr.nobody', deviceId: known.id, response });
      const fresh = await post(url, '/v1/auth/options', { clinicianId: 'dr.known' });
      assert.ok(fresh.status === 200);
      now += 6 * 60_000;
      const stale = await post(url, '/v1/auth/verify', { clinicianId: 'dr.known', deviceId: known.id, response: await auth.use(fresh.json.options) });
      assert.equal(unknown.status, stale.status);
      assert.equal(unknown.text, stale.text);

      const revokedOpts = await post(url, '/v1/auth/options', { clinicianId: 'dr.revoked' });
      const proof = await auth.use(revokedOpts.json.options);
      const revoked = await post(url, '/v1/auth/verify', { clinicianId: 'dr.revoked', deviceId: known.id, response: proof });
      assert.equal(revoked.status, 403);
      assert.equal(errorCode(revoked), 'CLINICIAN_REVOKED');
    });

    test('enroll/options answers the same for an unknown clinician, a revoked clinician and a wrong code', async () => {
      const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.known', clock));
      const wrong = (code[0] === 'A' ? 'B' : 'A') + code.slice(1);
      const answers = [
        await post(url, '/v1/enroll/options', { clinicianId: 'dr.nobody', code }),
        await post(url, '/v1/enroll/options', { clinicianId: 'dr.revoked', code }),
        await post(url, '/v1/enroll/options', { clinicianId: 'dr.known', code: wrong }),
      ];
      for (const a of answers) {
        assert.equal(a.status, answers[0]!.status);
        assert.equal(a.text, answers[0]!.text);
      }
      assert.equal(errorCode(answers[0]!), 'ENROLLMENT_CODE_INVALID');
    });

    test('device/options answers a challenge for unknown devices too, storing nothing; device/verify fails for them as for a bad signature; a revoked device learns it only after a valid signature', async () => {
      const rowsBefore = await challengeRows();
      const stranger = newDevice();
      const unknownOpts = await post(url, '/v1/auth/device/options', { deviceId: stranger.id });
      assert.equal(await challengeRows(), rowsBefore, 'nothing stored for an unknown device');
      const knownOpts = await post(url, '/v1/auth/device/options', { deviceId: known.id });
      assert.equal(unknownOpts.status, knownOpts.status);
      assert.deepEqual(shape(unknownOpts.json), shape(knownOpts.json));

      const unknownVerify = await post(url, '/v1/auth/device/verify', { deviceId: stranger.id, challenge: unknownOpts.json.challenge, signature: deviceProof(stranger, unknownOpts.json.challenge as string) });
      const challenge = knownOpts.json.challenge as string;
      const badSignature = await post(url, '/v1/auth/device/verify', { deviceId: known.id, challenge, signature: deviceProof(known, challenge, generateKeyPairSync('ed25519').privateKey) });
      assert.equal(unknownVerify.status, 401);
      assert.equal(unknownVerify.text, badSignature.text);
      assert.equal(errorCode(unknownVerify), 'DEVICE_SIGNATURE_INVALID');

      const doomed = newDevice();
      const another = await Authenticator.open(browser, renderer.origin);
      await enroll(url, db, clock, another, 'dr.known', doomed).finally(() => another.close());
      await revokeDevice(db, doomed.id, clock);
      const revokedOpts = await post(url, '/v1/auth/device/options', { deviceId: doomed.id });
      assert.deepEqual(shape(revokedOpts.json), shape(knownOpts.json), 'a revoked device gets a challenge like any other');
      const forged = await post(url, '/v1/auth/device/verify', { deviceId: doomed.id, challenge: revokedOpts.json.challenge, signature: deviceProof(doomed, revokedOpts.json.challenge as string, generateKeyPairSync('ed25519').privateKey) });
      assert.equal(forged.text, badSignature.text, 'no revocation news without a proof');
      const proven = await post(url, '/v1/auth/device/options', { deviceId: doomed.id });
      const told = await post(url, '/v1/auth/device/verify', { deviceId: doomed.id, challenge: proven.json.challenge, signature: deviceProof(doomed, proven.json.challenge as string) });
      assert.equal(told.status, 403);
      assert.equal(errorCode(told), 'DEVICE_REVOKED');
    });

    test('1,000 unauthenticated auth/options calls for unknown clinicians leave no rows; expired challenges are purged', async () => {
      const before = await challengeRows();
      for (let i = 0; i < 1000; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => post(url, '/v1/auth/options', { clinicianId: `dr.ghost${i + j}` })));
        for (const a of batch) assert.equal(a.status, 200);
      }
      assert.equal(await challengeRows(), before, 'no row for unknown clinicians');
      for (let i = 0; i < 3; i++) await post(url, '/v1/auth/options', { clinicianId: 'dr.known' });
      assert.ok((await challengeRows()) >= 3);
      now += 6 * 60_000;
      await post(url, '/v1/auth/options', { clinicianId: 'dr.known' });
      assert.equal(await challengeRows(), 1, 'only the new challenge is left');
    });

    test('sign-in, enrollment and device-key endpoints are rate-limited per clinician or device and per address', async () => {
      const limited = await serve({ rateLimits: { signInPerClinician: 3, enrollPerClinician: 2, devicePerDevice: 3, perIp: 8 } });
      const statuses = async (n: number, path: string, body: () => unknown) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await post(limited, path, body())).status);
        return out;
      };
      assert.deepEqual(await statuses(4, '/v1/auth/options', () => ({ clinicianId: 'dr.known' })), [200, 200, 200, 429], 'sign-in per clinician');
      assert.equal((await post(limited, '/v1/auth/options', { clinicianId: 'dr.other' })).status, 200, 'another clinician is not held back');
      assert.deepEqual(await statuses(3, '/v1/enroll/options', () => ({ clinicianId: 'dr.known', code: 'AAAA-AAAA-AAAA' })), [400, 400, 429], 'enrollment codes per clinician');
      const blocked = await post(limited, '/v1/enroll/options', { clinicianId: 'dr.known', code: 'AAAA-AAAA-AAAA' });
      assert.equal(errorCode(blocked), 'RATE_LIMITED');
      assert.deepEqual(await statuses(4, '/v1/auth/device/options', () => ({ deviceId: known.id })), [200, 200, 200, 429], 'device key per device');
      const perIp = await statuses(10, '/v1/auth/options', () => ({ clinicianId: `dr.spray${randomBytes(4).toString('hex')}` }));
      assert.ok(perIp.includes(429), `per address: ${perIp.join(',')}`);
    });

    test('another address cannot use up a clinician\'s or device\'s limit: after 30 attempts from an attacker, the clinician\'s own address still gets in', async () => {
      const app = serveApp({ rateLimits: { signInPerClinician: 3, enrollPerClinician: 2, devicePerDevice: 3, perIp: 1000 } });
      const from = (remoteAddress: string, url: string, payload: Json) => app.inject({ method: 'POST', url, payload, remoteAddress });
      const attacker = '203.0.113.66';
      const attempts: number[] = [];
      for (let i = 0; i < 30; i++) attempts.push((await from(attacker, '/v1/auth/options', { clinicianId: 'dr.known' })).statusCode);
      assert.deepEqual(attempts.slice(0, 4), [200, 200, 200, 429], 'the attacker\'s own address is limited');
      const own = await from('10.1.2.3', '/v1/auth/options', { clinicianId: 'dr.known' });
      assert.equal(own.statusCode, 200, own.body);
      for (let i = 0; i < 30; i++) await from(attacker, '/v1/enroll/options', { clinicianId: 'dr.known', code: 'AAAA-AAAA-AAAA' });
      assert.equal((await from(attacker, '/v1/enroll/options', { clinicianId: 'dr.known', code: 'AAAA-AAAA-AAAA' })).statusCode, 429);
      assert.equal((await from('10.1.2.3', '/v1/enroll/options', { clinicianId: 'dr.known', code: 'AAAA-AAAA-AAAA' })).json().error.code, 'ENROLLMENT_CODE_INVALID');
      for (let i = 0; i < 30; i++) await from(attacker, '/v1/auth/device/options', { deviceId: known.id });
      assert.equal((await from(attacker, '/v1/auth/device/options', { deviceId: known.id })).statusCode, 429);
      assert.equal((await from('10.1.2.3', '/v1/auth/device/options', { deviceId: known.id })).statusCode, 200);
    });

    test('auth/verify tells an unknown clinician from a known one in no way before a proof: decoy challenge vs unknown credential, made-up challenge vs made-up challenge, replay, expiry', async () => {
      const verify = async (clinicianId: string, challenge: string) => post(url, '/v1/auth/verify', { clinicianId, deviceId: known.id, response: fakeAssertion(challenge) });
      const challengeFor = async (clinicianId: string) => ((await post(url, '/v1/auth/options', { clinicianId })).json.options as Json).challenge as string;
      const [knownChallenge, nobodyChallenge] = [await challengeFor('dr.known'), await challengeFor('dr.nobody')];
      const knownAnswer = await verify('dr.known', knownChallenge);
      assert.equal(errorCode(knownAnswer), 'CREDENTIAL_UNKNOWN');
      const nobodyAnswer = await verify('dr.nobody', nobodyChallenge);
      assert.equal(nobodyAnswer.status, knownAnswer.status);
      assert.equal(nobodyAnswer.text, knownAnswer.text, 'same code and message');
      const [knownReplay, nobodyReplay] = [await verify('dr.known', knownChallenge), await verify('dr.nobody', nobodyChallenge)];
      assert.equal(errorCode(knownReplay), 'CHALLENGE_INVALID', 'a challenge is burned by its first use');
      assert.equal(nobodyReplay.text, knownReplay.text, 'a decoy challenge is burned too');
      const madeUp = randomBytes(32).toString('base64url');
      const [knownMadeUp, nobodyMadeUp] = [await verify('dr.known', madeUp), await verify('dr.nobody', randomBytes(32).toString('base64url'))];
      assert.equal(nobodyMadeUp.status, knownMadeUp.status);
      assert.equal(nobodyMadeUp.text, knownMadeUp.text);
      assert.equal(errorCode(await verify('dr.nobody2', await challengeFor('dr.nobody'))), 'CHALLENGE_INVALID', 'a decoy is bound to its clinician');
      const [knownLate, nobodyLate] = [await challengeFor('dr.known'), await challengeFor('dr.nobody')];
      now += 6 * 60_000;
      const [knownStale, nobodyStale] = [await verify('dr.known', knownLate), await verify('dr.nobody', nobodyLate)];
      assert.equal(errorCode(knownStale), 'CHALLENGE_INVALID');
      assert.equal(nobodyStale.text, knownStale.text, 'a decoy expires like a real challenge');
    });

    test('a decoy\'s allowCredentials transports look like a real enrollment\'s', async () => {
      const stored = await db.selectFrom('credentials').select(['transports']).where('clinician_id', '=', 'dr.known').executeTakeFirstOrThrow();
      const decoy = (await post(url, '/v1/auth/options', { clinicianId: 'dr.nobody' })).json.options as { allowCredentials: Array<{ transports: string[] }> };
      assert.deepEqual(decoy.allowCredentials[0]!.transports, JSON.parse(stored.transports));
    });

    test('a malformed URL gets the fixed 400 INVALID_REQUEST with the usual headers, never the path', async () => {
      const { hostname, port } = new URL(url);
      const raw = (path: string) =>
        new Promise<{ status: number; text: string; headers: Headers }>((resolve, reject) => {
          const req = httpRequest({ host: hostname, port, path, method: 'GET', headers: { authorization: `Bearer ${knownPasskey.token}` } }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => {
              const headers = new Headers();
              for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
              resolve({ status: res.statusCode!, text, headers });
            });
          });
          req.on('error', reject);
          req.end();
        });
      const paths = [`/v1/fhir/Patient/${patientId}%E0%A4%A`, `/v1/audit/patients/${patientId}%ZZ?cursor=x`, `/v1/nowhere/${patientId}%ZZ`];
      for (const path of paths) {
        const a = await raw(path);
        assert.equal(a.status, 400, path);
        assert.deepEqual(JSON.parse(a.text), { error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
        assert.ok(!a.text.includes(patientId) && !a.text.includes('/v1'), 'no path');
        SECURITY_HEADERS({ ...a, json: {} });
      }
    });

    test('pushes and audit uploads are limited per device, per window (even for a sync-only session)', async () => {
      const app = serveApp({ rateLimits: { ...HIGH, uploadsPerDevice: 2 } });
      const sync = await deviceSession(url, known);
      const token = sync.json.token as string;
      const push = () => ({ changes: [{ idempotencyKey: randomUUID(), resourceType: 'Observation', id: randomUUID(), baseVersion: null, resource: { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientId}` } } }] });
      const send = async (url: string, payload: unknown, t = token) => app.inject({ method: 'POST', url, payload: payload as Json, headers: { authorization: `Bearer ${t}` } });
      const pushes = [(await send('/v1/sync/push', push())).statusCode, (await send('/v1/sync/push', push())).statusCode];
      assert.ok(!pushes.includes(429), pushes.join());
      const third = await send('/v1/sync/push', push());
      assert.equal(third.statusCode, 429);
      assert.equal(third.json().error.code, 'RATE_LIMITED');
      const uploads = [(await send('/v1/audit/upload', {})).statusCode, (await send('/v1/audit/upload', {})).statusCode, (await send('/v1/audit/upload', {})).statusCode];
      assert.deepEqual(uploads.map((s) => s === 429), [false, false, true], uploads.join());
      assert.notEqual((await send('/v1/sync/push', push(), await otherDeviceToken())).statusCode, 429, 'another device is not held back');
    });

    /** A passkey session of a second device of dr.known. */
    let otherToken: string | null = null;
    async function otherDeviceToken(): Promise<string> {
      if (otherToken) return otherToken;
      const another = await Authenticator.open(browser, renderer.origin);
      otherToken = (await enroll(url, db, clock, another, 'dr.known', newDevice()).finally(() => another.close())).token;
      return otherToken;
    }

    test('a device uploads one audit chain at a time: a second concurrent upload gets 429 before its body is read; another device is not held back', { timeout: 30_000 }, async () => {
      const app = serveApp();
      let bodyNext: () => void = () => undefined;
      app.addHook('preParsing', async (_request, _reply, payload) => {
        bodyNext();
        return payload;
      });
      await app.ready();
      const upload = (token: string, body: PassThrough, length: number) =>
        app.inject({ method: 'POST', url: '/v1/audit/upload', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(length) } });
      const first = new PassThrough();
      const firstReading = new Promise<void>((resolve) => (bodyNext = resolve));
      const firstAnswer = upload(knownPasskey.token, first, 2);
      await firstReading;
      const second = new PassThrough();
      second.write('{');
      const secondAnswer = await upload(knownPasskey.token, second, 1_000_000);
      assert.equal(secondAnswer.statusCode, 429, secondAnswer.body);
      assert.equal(secondAnswer.json().error.code, 'RATE_LIMITED');
      second.destroy();
      const other = new PassThrough();
      other.end('{}');
      assert.notEqual((await upload(await otherDeviceToken(), other, 2)).statusCode, 429, 'another device uploads meanwhile');
      first.end('{}');
      assert.equal((await firstAnswer).statusCode, 400, 'the first upload was read and answered');
      const third = new PassThrough();
      third.end('{}');
      assert.equal((await upload(knownPasskey.token, third, 2)).statusCode, 400, 'once the first is answered, the device may upload again');
    });

    test('a body sent a byte every 2 s is cut', async () => {
      const slowUrl = await serve({ timeouts: { idleMs: 1000, requestMs: 1500, keepAliveMs: 1000 } });
      const slow = await slowBody(slowUrl, '/v1/auth/options', 2000, 4);
      assert.ok(slow.closedByServer, 'the server closed the connection');
      assert.ok(slow.bytesSent <= 1, `cut after ${slow.bytesSent} bytes`);
      assert.ok(!slow.answer.includes('200 OK'));
    });
  });

  describe(`unauthenticated large uploads to a backend process on ${engine}`, () => {
    test('8 parallel 60 MB uploads without a token are refused fast and do not grow the backend', async () => {
      const dir = scratchDir('front-door-process');
      const backend = await startBackend({ dataDir: dir.path, origins: ['http://localhost'], engine, bundles: [] });
      try {
        const pid = pidListeningOn(backend.port);
        await call(backend.url, 'GET', '/healthz');
        const before = rssMiB(pid);
        const size = 60 * 1024 * 1024;
        const agent = new Agent({ keepAlive: true, maxSockets: 8 });
        const results = await Promise.all(Array.from({ length: 8 }, () => unauthenticatedUpload(backend.url, size, agent)));
        agent.destroy();
        const grown = rssMiB(pid) - before;
        for (const r of results) {
          assert.equal(r.status, 401);
          assert.ok(r.ms < 5000, `refused in ${Math.round(r.ms)} ms`);
        }
        assert.ok(grown < 40, `the backend grew by ${grown.toFixed(0)} MiB`);
        assert.ok(results.every((r) => r.sent < size), `not all of the body was taken: ${results.map((r) => r.sent >> 20).join(',')} MiB sent`);
        assert.equal((await call(backend.url, 'GET', '/healthz')).status, 200, 'the backend is still up');
      } finally {
        await backend.dispose();
        dir.remove();
      }
    });
  });
}
