/**
 * Two backend instances on one PostgreSQL serve the same device
 * interchangeably: real backend processes behind a round-robin TCP load
 * balancer (a new connection per request, so consecutive calls alternate
 * instances). A clinician enrolls and signs in with a real passkey (options
 * from one instance, verify at the other), the device gets a sync-only
 * session the same way, pushes, uploads its audit chain and pulls; one
 * instance is killed (SIGKILL) mid-sync and the device carries on through
 * the other; every change lands exactly once, and audit receipts from
 * either instance verify against the one configured receipt key.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { openDatabase, type Db } from '../server/database';
import { createEnrollmentCode, formatEnrollmentCode } from '../server/organisation/organisation';
import { loadReceiptKey } from '../server/receipt-key';
import { systemClock } from '../server/clock';
import { PULL_PATH, PUSH_PATH, type Change } from '../shared/sync-api';
import { AUDIT_UPLOAD_PATH, receiptMessage, type AuditReceipt } from '../shared/audit-upload';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';
import { startBackend, type BackendProcess } from './support/backend-process';
import { Authenticator, deviceProof, type Json, type TestDevice } from './support/passkey-ceremony';
import { freshPostgresDatabase } from './support/postgres';
import { receiptKeyFile } from './support/receipt-key';
import { startRoundRobinProxy, type RoundRobinProxy } from './support/round-robin-proxy';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice } from './support/signed-audit-chain';
import { syntheticPatientBundle } from './support/synthetic-bundles';

interface Reply {
  status: number;
  json: Json;
  text: string;
}

/** One request on a connection of its own (no keep-alive), so the balancer routes each call anew. */
function send(url: string, method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${url}${path}`,
      { method, agent: false, headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: Json = {};
          try {
            json = JSON.parse(text) as Json;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('two backend instances on one PostgreSQL behind a round-robin balancer', () => {
  const dir = scratchDir('instances');
  let browser: Browser;
  let renderer: RendererServer;
  let database: { url: string; drop(): Promise<void> };
  let a: BackendProcess;
  let b: BackendProcess;
  let proxy: RoundRobinProxy;
  let db: Db;
  const patients = ['inst-p0', 'inst-p1', 'inst-p2'];

  before(async () => {
    [browser, renderer, database] = await Promise.all([launchChromium(), serveRenderer(), freshPostgresDatabase()]);
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    for (const p of patients) writeFileSync(join(bundles, `${p}.json`), JSON.stringify(syntheticPatientBundle({ patientId: p, observations: 2 })));
    // One key for every instance, from configuration.
    const keyFile = receiptKeyFile(join(dir.path, 'keys'));
    const common = { origins: [renderer.origin], bundles: [bundles], engine: 'postgres' as const, databaseUrl: database.url, receiptKeyFile: keyFile };
    a = await startBackend({ dataDir: join(dir.path, 'a'), ...common });
    b = await startBackend({ dataDir: join(dir.path, 'b'), ...common });
    a.admin(['add-clinician', 'dr.two', '--name', 'Dr Two', '--assign-all']);
    proxy = await startRoundRobinProxy([a.port, b.port]);
    db = openDatabase({ dataDir: join(dir.path, 'a'), databaseUrl: database.url }).db;
  });
  after(async () => {
    await proxy?.close();
    await db?.destroy();
    await a?.dispose();
    await b?.dispose();
    await browser?.close();
    await renderer?.close();
    await database?.drop();
    dir.remove();
  });

  test('sign-in across instances, then push, audit upload and pull through the balancer with one instance killed mid-sync: every change once, every receipt under the one key', async () => {
    const url = proxy.url;
    /** The instance that took the latest connection. */
    const lastInstance = () => proxy.routed.at(-1);
    const auditor = new HandBuiltDevice('dr.two');
    const device: TestDevice = { id: auditor.id, publicKey: createPublicKey(auditor.privateKey).export({ format: 'der', type: 'spki' }).toString('base64url'), privateKey: auditor.privateKey };
    const auth = await Authenticator.open(browser, renderer.origin);

    // Enrollment: options from one instance, verify at the other.
    const code = formatEnrollmentCode(await createEnrollmentCode(db, 'dr.two', systemClock));
    const enrollOptions = await send(url, 'POST', '/v1/enroll/options', { clinicianId: 'dr.two', code });
    assert.equal(enrollOptions.status, 200, enrollOptions.text);
    const optionsAt = lastInstance();
    const created = await auth.create(enrollOptions.json.options);
    const enrolled = await send(url, 'POST', '/v1/enroll/verify', { clinicianId: 'dr.two', code, response: created, device: { id: device.id, publicKey: device.publicKey } });
    assert.equal(enrolled.status, 200, enrolled.text);
    assert.notEqual(lastInstance(), optionsAt, 'enrollment verified at the other instance');

    // Passkey sign-in: options from one instance, verify at the other.
    const signInOptions = await send(url, 'POST', '/v1/auth/options', { clinicianId: 'dr.two' });
    assert.equal(signInOptions.status, 200, signInOptions.text);
    const signInOptionsAt = lastInstance();
    const assertion = await auth.use(signInOptions.json.options);
    const signedIn = await send(url, 'POST', '/v1/auth/verify', { clinicianId: 'dr.two', deviceId: device.id, response: assertion });
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.notEqual(lastInstance(), signInOptionsAt, 'sign-in verified at the other instance');
    const token = signedIn.json.token as string;
    await auth.close();

    // The sync-only device session, the same way.
    const deviceOptions = await send(url, 'POST', '/v1/auth/device/options', { deviceId: device.id });
    const deviceOptionsAt = lastInstance();
    const challenge = deviceOptions.json.challenge as string;
    const deviceSession = await send(url, 'POST', '/v1/auth/device/verify', { deviceId: device.id, challenge, signature: deviceProof(device, challenge) });
    assert.equal(deviceSession.status, 200, deviceSession.text);
    assert.notEqual(lastInstance(), deviceOptionsAt);
    const syncToken = deviceSession.json.token as string;

    // Audit uploads answered by each instance, each receipt verified against the configured key alone.
    const configured = loadReceiptKey(a.receiptKeyFile);
    const answeredBy = new Set<number>();
    const uploadAudit = async () => {
      const upload = auditor.upload(patients.map((p) => ({ patientId: p, recordedAt: new Date().toISOString() })));
      for (let attempt = 0; ; attempt++) {
        const r = await send(url, 'POST', AUDIT_UPLOAD_PATH, upload, syncToken).catch(() => null);
        if (r?.status === 200) {
          answeredBy.add(lastInstance()!);
          const receipt = r.json.receipt as AuditReceipt;
          assert.equal(r.json.receiptKey, configured.publicKey, 'every instance gives the one configured key');
          const { signature, ...signed } = receipt;
          assert.ok(verify(null, Buffer.from(receiptMessage(signed)), createPublicKey(configured.privateKey), Buffer.from(signature, 'base64')), 'the receipt verifies against the configured key');
          assert.deepEqual({ seq: receipt.seq, hash: receipt.hash }, auditor.head);
          return;
        }
        assert.ok(attempt < 50, `audit upload got through: ${r?.text ?? 'no answer'}`);
        await delay(50);
      }
    };
    await uploadAudit();
    await uploadAudit();
    assert.equal(answeredBy.size, 2, 'both instances signed receipts');

    // Pushes through the balancer; one instance is killed mid-sync.
    const keys: string[] = [];
    const ids: string[] = [];
    let landed = 0;
    let killed: Promise<void> | null = null;
    for (let batch = 0; batch < 40; batch++) {
      const changes: Change[] = Array.from({ length: 25 }, (_, i) => {
        const id = `inst-${batch}-${i}`;
        return { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patients[i % patients.length]}` } } };
      });
      keys.push(...changes.map((c) => c.idempotencyKey));
      ids.push(...changes.map((c) => c.id));
      for (let attempt = 0; ; attempt++) {
        const pushed = send(url, 'POST', PUSH_PATH, { changes }, syncToken).catch(() => null);
        // Killed while this push is on its way or being applied.
        if (batch === 15 && attempt === 0) killed = b.kill();
        const r = await pushed;
        if (r?.status === 200) {
          assert.deepEqual((r.json.results as Array<{ status: string }>).map((x) => x.status), changes.map(() => 'applied'));
          break;
        }
        assert.ok(attempt < 50, `the push got through the other instance: ${r?.text ?? 'no answer'}`);
        await delay(20);
      }
      landed += changes.length;
    }
    await killed;
    assert.equal(b.alive(), false);
    assert.ok(a.alive());
    assert.equal(landed, 1000);
    const afterKill = proxy.routed.slice(-10);
    assert.ok(afterKill.every((i) => i === 0), 'after the kill every connection goes to the instance alive');

    // Audit after the kill, then a full pull: everything pushed is there.
    await uploadAudit();
    const pulled = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const r = await send(url, 'GET', `${PULL_PATH}${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, token);
      assert.equal(r.status, 200, r.text);
      for (const res of r.json.resources as Array<{ id: string }>) pulled.add(res.id);
      cursor = r.json.cursor as string | null;
      if (!r.json.more) break;
    }
    assert.ok(ids.every((id) => pulled.has(id)), 'every pushed change is in the pull');

    const answers = await db.selectFrom('applied_changes').select('idempotency_key').where('device_id', '=', device.id).execute();
    assert.equal(answers.length, keys.length, 'one stored answer per change');
    assert.deepEqual(new Set(answers.map((x) => x.idempotency_key)), new Set(keys));
    const rows = await db.selectFrom('resources').select(['version_id']).where('id', 'like', 'inst-%-%').where('resource_type', '=', 'Observation').where('id', 'not like', 'inst-p%').execute();
    assert.equal(rows.length, 1000, 'one resource per change');
    assert.ok(rows.every((r) => Number(r.version_id) === 1), 'none written twice');
    const audit = await db.selectFrom('audit_entries').select((eb) => eb.fn.countAll().as('n')).where('device_id', '=', device.id).executeTakeFirstOrThrow();
    assert.equal(Number(audit.n), auditor.head.seq, 'the audit chain whole, once');
  });
});

describe('two backend instances on one PostgreSQL answer a replayed sign-in alike for known and unknown clinicians', () => {
  const dir = scratchDir('instances-decoy');
  let database: { url: string; drop(): Promise<void> };
  let a: BackendProcess;
  let b: BackendProcess;

  before(async () => {
    database = await freshPostgresDatabase();
    const common = { origins: ['https://app.invalid'], bundles: [], engine: 'postgres' as const, databaseUrl: database.url, receiptKeyFile: receiptKeyFile(join(dir.path, 'keys')) };
    a = await startBackend({ dataDir: join(dir.path, 'a'), ...common });
    b = await startBackend({ dataDir: join(dir.path, 'b'), ...common });
    a.admin(['add-clinician', 'dr.known', '--name', 'Dr Known']);
    const { db } = openDatabase({ dataDir: join(dir.path, 'a'), databaseUrl: database.url });
    try {
      // A stored passkey, so dr.known gets a real (stored) challenge; the answer below is bogus either way.
      await db
        .insertInto('credentials')
        .values({ id: randomBytes(16).toString('base64url'), clinician_id: 'dr.known', public_key: randomBytes(77).toString('base64url'), counter: 0, transports: '["internal"]', prf: 1, created_at: new Date().toISOString() })
        .execute();
    } finally {
      await db.destroy();
    }
  });
  after(async () => {
    await b?.dispose();
    await a?.dispose();
    await database?.drop();
    dir.remove();
  });

  test('the same answer verified at one instance, again there, then at the other: the same three answers for a known and an unknown clinician (a used decoy challenge is remembered in the shared database)', async () => {
    const postJson = async (base: string, path: string, body: unknown) => {
      const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://app.invalid' }, body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as Json };
    };
    const outcome: Record<string, string[]> = {};
    for (const clinicianId of ['dr.known', 'dr.nobody']) {
      const opts = await postJson(a.url, '/v1/auth/options', { clinicianId });
      assert.equal(opts.status, 200);
      const challenge = (opts.json.options as { challenge: string }).challenge;
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: 'https://app.invalid' })).toString('base64url');
      const id = randomBytes(16).toString('base64url');
      const body = { clinicianId, deviceId: randomUUID(), response: { id, rawId: id, type: 'public-key', response: { clientDataJSON, authenticatorData: randomBytes(37).toString('base64url'), signature: randomBytes(64).toString('base64url') }, clientExtensionResults: {} } };
      const answers = [await postJson(a.url, '/v1/auth/verify', body), await postJson(a.url, '/v1/auth/verify', body), await postJson(b.url, '/v1/auth/verify', body)];
      outcome[clinicianId] = answers.map((r) => `${r.status} ${(r.json.error as { code?: string } | undefined)?.code}`);
    }
    assert.deepEqual(outcome['dr.known'], ['401 CREDENTIAL_UNKNOWN', '400 CHALLENGE_INVALID', '400 CHALLENGE_INVALID']);
    assert.deepEqual(outcome['dr.nobody'], outcome['dr.known'], 'an unknown clinician answers as a known one does, at either instance');
  });
});
