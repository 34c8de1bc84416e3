/**
 * The desktop's consultations, through the handler registry the app uses
 * (createHandlerRegistry + dispatch, as the renderer reaches it) against the
 * real backend process with its signaling WebSocket, on SQLite and on
 * PostgreSQL, with a desktop enrolled and signed in by a real passkey
 * (Chromium's virtual authenticator) and gnome-keyring: start, connect (the
 * backend's roster shows this clinician with a call key whose signature
 * verifies against the enrolled device key), junk refused with the socket
 * kept, a long poll that returns as soon as a participant joins, one call at
 * a time, calls not connected here refused, a lock that ends the call (socket
 * closed for the others, the camera and microphone grant withdrawn, the wait
 * ended), the local audit entries of start, join, code confirmation and end,
 * and typed errors without ids when the backend is gone. And the receive
 * queue on its own: bounded without ever dropping a message silently.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { CONFLICT_SUBTYPE_SYSTEM, parseCanonicalAuditEntry, type AuditEntry } from '../shared/audit-entry';
import { toBalpAuditEvent } from '../shared/balp-audit-event';
import type { Result } from '../shared/app-error';
import type { CallOutput } from '../shared/contract';
import { fromBase64url, toBase64url } from '../shared/consult/base64url';
import { generateCallKeyPair } from '../shared/consult/call-keys';
import { verifyCallKeySignature } from '../shared/consult/call-key-signature';
import { parseJoinFragment } from '../shared/consult/join-link';
import type { ServerMessage } from '../shared/consult/signaling-messages';
import { decodePrf } from '../electron/services/session/passkey-record';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { SignalingPeer } from './support/signaling-peer';
import { ReceiveQueue } from '../electron/services/consult/receive-queue';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const dir = scratchDir('consult-service');
const keychain = testKeychain();
let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
  dir.remove();
  await keychain.cleanup();
});

type Call = <T = unknown>(name: string, input: unknown) => Promise<Result<T>>;

function caller(registry: HandlerRegistry): Call {
  return <T,>(name: string, input: unknown) =>
    dispatch(registry, name, input, { url: `${renderer.origin}/index.html`, isMainFrame: true }, { trustedOrigins: [renderer.origin] }) as Promise<Result<T>>;
}

function value<T>(result: Result<T>, what: string): T {
  if (!result.ok) assert.fail(`${what}: ${result.error.code} ${result.error.message}`);
  return result.value;
}

function code(result: Result<unknown>): string {
  return result.ok ? 'ok' : result.error.code;
}

/** The consultation entries in the open session's chain, read through the test's own connection to the cache file. */
async function auditEntries(d: PasskeyDesktop, prfOutput: Buffer | undefined): Promise<AuditEntry[]> {
  const db = await inspectCache(d.auth.session()!, keychain, prfOutput);
  const rows = db.prepare("SELECT entry FROM audit_log WHERE subtype LIKE 'consult-%' ORDER BY seq").pluck().all() as string[];
  return rows.map((r) => parseCanonicalAuditEntry(r)!);
}

type Received = CallOutput<'consult.receive'>;

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`consultations through the registry against the real backend (${engine}): start, signed join, junk, long poll, one call, lock ends it, audit`, async () => {
    const backend: BackendProcess = await startBackend({ engine, dataDir: join(dir.path, `backend-${engine}`), origins: [renderer.origin] });
    const clinician = `dr.consult.${engine}`;
    backend.admin(['add-clinician', clinician, '--name', 'Dr Consult', '--assign-all']);
    backend.admin(['set-policy', 'undoSeconds', '0']);
    const enrollCode = backend.admin(['enroll-code', clinician]);
    const d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: `desktop-${engine}`, secrets: keychain, prf: true });
    const peers: SignalingPeer[] = [];
    try {
      const created = await d.createPasskey(clinician, enrollCode);
      await d.auth.enrollFinish(created.response, created.prfOutput);
      const call = caller(createHandlerRegistry(d.auth, d.auth));
      const session = d.auth.session()!;
      const prf = decodePrf(created.prfOutput);
      const { id: encounterId, patient_id: patientId } = (await inspectCache(session, keychain, prf))
        .prepare("SELECT id, patient_id FROM resources WHERE resource_type = 'Encounter' AND patient_id IS NOT NULL ORDER BY patient_id, id LIMIT 1")
        .get() as { id: string; patient_id: string };

      // ---- start: the backend makes the call; the start is audited with the patient ----
      const { callId } = value(await call<{ callId: string }>('consult.start', { patientId, encounterId }), 'start');
      assert.deepEqual(
        (await auditEntries(d, prf)).map((e) => [e.subtype, e.action, e.patientId, e.outcome]),
        [['consult-start', 'C', patientId, '0']],
      );
      assert.equal(d.auth.consult!.media.active, false, 'no camera or microphone before the call is connected');

      // ---- calls not connected here are not found; junk never reaches the socket ----
      const stranger = randomUUID();
      for (const [name, input] of [
        ['consult.send', { callId: stranger, message: { type: 'leave' } }],
        ['consult.receive', { callId: stranger, after: 0 }],
        ['consult.leave', { callId: stranger, end: false }],
      ] as const) {
        assert.equal(code(await call(name, input)), 'NOT_FOUND', `${name} before any connect`);
      }

      // ---- connect: hello then join with the call key signed by the device key ----
      const keys = await generateCallKeyPair();
      const publicKey = toBase64url(keys.publicKey);
      assert.equal(code(await call('consult.connect', { callId, publicKey: toBase64url(new Uint8Array(31)) })), 'INVALID_INPUT', 'a call key of the wrong length');
      value(await call('consult.connect', { callId, publicKey }), 'connect');
      assert.equal(d.auth.consult!.media.active, true, 'camera and microphone may be granted while the call is active');
      const first = value(await call<Received>('consult.receive', { callId, after: 0 }), 'receive welcome');
      const welcome = first.messages[0]!.message as Extract<ServerMessage, { type: 'welcome' }>;
      assert.equal(welcome.type, 'welcome');
      assert.equal(welcome.callId, callId);
      const me = welcome.roster.find((p) => p.participantId === welcome.participantId)!;
      assert.equal(me.role, 'host');
      assert.equal(me.callKey.publicKey, publicKey);
      const deviceSpki = new Uint8Array(session.keys.publicKey.export({ format: 'der', type: 'spki' }));
      assert.equal(me.devicePublicKey, toBase64url(deviceSpki), 'the directory lists this device\'s enrolled key');
      assert.ok(me.callKey.signature, 'the call key is signed');
      assert.equal(await verifyCallKeySignature(fromBase64url(me.devicePublicKey!), callId, keys.publicKey, fromBase64url(me.callKey.signature!)), true);
      assert.equal(await verifyCallKeySignature(deviceSpki, randomUUID(), keys.publicKey, fromBase64url(me.callKey.signature!)), false, 'bound to this call');
      let seen = first.messages.at(-1)!.n;

      // ---- only one call at a time; a second connect is refused without touching the first ----
      assert.equal(code(await call('consult.connect', { callId, publicKey })), 'CONSULT_REFUSED');
      const { callId: second } = value(await call<{ callId: string }>('consult.start', { patientId, encounterId }), 'second start');
      assert.equal(code(await call('consult.connect', { callId: second, publicKey })), 'CONSULT_REFUSED');

      // ---- junk and main's own messages are refused INVALID_INPUT; the socket stays ----
      for (const message of [{ type: 'hello', callId }, { type: 'join', callKey: { publicKey } }, { type: 'nonsense' }, { type: 'code-confirmed', code: '12345x' }, 'junk', { type: 'key', to: '!', epoch: -1, enc: '', ciphertext: '' }]) {
        assert.equal(code(await call('consult.send', { callId, message })), 'INVALID_INPUT', JSON.stringify(message));
      }
      assert.equal(d.auth.consult!.callActive, true, 'the socket is still open after junk');

      // ---- the long poll returns as soon as someone joins ----
      const { link } = value(await call<{ link: string | null }>('consult.invite', { callId, invitee: { kind: 'patient' } }), 'invite');
      const joinToken = parseJoinFragment(new URL(link!).hash)!;
      const waiting = call<Received>('consult.receive', { callId, after: seen });
      const startedWaiting = performance.now();
      const patient = await SignalingPeer.open(backend.url);
      peers.push(patient);
      const patientKeys = await generateCallKeyPair();
      patient.send({ type: 'hello', callId, token: joinToken.token });
      patient.send({ type: 'join', callKey: { publicKey: toBase64url(patientKeys.publicKey) } });
      const patientWelcome = await patient.next((m) => m.type === 'welcome', 'patient welcome');
      const joined = value(await waiting, 'receive joined');
      assert.ok(performance.now() - startedWaiting < 10_000, 'answered when the message came, not at the end of the wait');
      assert.deepEqual(joined.messages.map((m) => m.message.type), ['joined']);
      assert.equal(joined.closed, false);
      seen = joined.messages.at(-1)!.n;

      // ---- the code confirmation is audited and relayed ----
      value(await call('consult.send', { callId, message: { type: 'code-confirmed', round: Number(patientWelcome.seq), code: '123456' } }), 'code confirmed');
      await patient.next((m) => m.type === 'code-confirmed', 'patient hears the confirmation');

      // ---- a lock ends the call: the wait ends, the others see it end, the grant is withdrawn ----
      const blocked = call<Received>('consult.receive', { callId, after: Number.MAX_SAFE_INTEGER });
      const lockedAt = performance.now();
      d.auth.lockNow('manual');
      const afterLock = value(await blocked, 'receive across the lock');
      assert.ok(performance.now() - lockedAt < 10_000, 'the lock ended the wait');
      assert.equal(afterLock.closed, true);
      assert.equal(d.auth.consult!.media.active, false, 'no camera or microphone after the lock');
      assert.equal(d.auth.consult!.callActive, false);
      await patient.next((m) => m.type === 'ended', 'the host locked: the call ended for the patient');
      for (const [name, input] of [
        ['consult.start', { patientId, encounterId }],
        ['consult.connect', { callId, publicKey }],
        ['consult.receive', { callId, after: 0 }],
        ['consult.invited', {}],
      ] as const) {
        assert.equal(code(await call(name, input)), 'LOCKED', `${name} while locked`);
      }

      // ---- after the next unlock: the chain holds start, join, code confirmation and end, each naming the patient ----
      const used = await d.usePasskey();
      await d.auth.signInFinish(used.response, used.prfOutput);
      const entries = await auditEntries(d, decodePrf(used.prfOutput));
      assert.deepEqual(
        entries.map((e) => [e.subtype, e.action, e.patientId, e.outcome]),
        [
          ['consult-start', 'C', patientId, '0'],
          ['consult-join', 'E', patientId, '0'],
          ['consult-start', 'C', patientId, '0'],
          ['consult-code-confirmed', 'E', patientId, '0'],
          ['consult-end', 'E', patientId, '0'],
        ],
      );
      assert.ok(entries.every((e) => e.entities.includes(`Encounter/${encounterId}`) && e.actor === clinician));
      assert.ok(!JSON.stringify(entries).includes('123456'), 'the code itself is not recorded');
      // Exported as BALP AuditEvents: our own subtype code (no restful interaction), the patient as the patient entity.
      for (const e of entries) {
        const event = toBalpAuditEvent(e, { applicationName: 'clinician-desktop', custodianName: 'cache', hash: '0'.repeat(64) });
        assert.deepEqual(event.subtype, [{ system: CONFLICT_SUBTYPE_SYSTEM, code: e.subtype }]);
        assert.deepEqual((event.entity as Array<{ what?: { reference: string } }>)[0]!.what, { reference: `Patient/${patientId}` });
      }
      assert.equal(code(await call('consult.receive', { callId, after: 0 })), 'NOT_FOUND', 'the ended call is gone after the lock');

      // ---- the backend gone: typed, and no id in the message ----
      await backend.stop();
      for (const [name, input] of [
        ['consult.start', { patientId, encounterId }],
        ['consult.connect', { callId: second, publicKey }],
      ] as const) {
        const result = await call(name, input);
        assert.equal(code(result), 'CONSULT_UNAVAILABLE', `${name} without a backend`);
        const text = JSON.stringify(result);
        for (const secret of [patientId, encounterId, callId, second]) assert.ok(!text.includes(secret), `${name}: no id in the error`);
      }
    } finally {
      for (const p of peers) p.ws.terminate();
      await d.close();
      await backend.dispose();
    }
  });
}

test('the receive queue: numbered in order, a take answers at once on a push or a close, and past its bound it refuses instead of dropping', async () => {
  let n = 100;
  const queue = new ReceiveQueue<string>(() => ++n, { messages: 3, bytes: 1000 });
  const waiting = queue.take(0, 60_000);
  assert.equal(queue.push('a', 10), true);
  assert.deepEqual(await waiting, { messages: [{ n: 101, message: 'a' }], closed: false });
  assert.equal(queue.push('b', 10), true);
  assert.equal(queue.push('c', 10), true);
  assert.equal(queue.push('d', 10), false, 'a fourth unread message is refused (the caller closes the call), never an old one dropped');
  assert.deepEqual((await queue.take(101, 0)).messages.map((m) => m.message), ['b', 'c']);
  // What the renderer has seen is let go: room again.
  assert.equal(queue.push('d', 10), true);
  const blocked = queue.take(104, 60_000);
  queue.close();
  assert.deepEqual(await blocked, { messages: [], closed: true });
  assert.equal(queue.push('e', 10), false, 'nothing after the close');

  const bytes = new ReceiveQueue<string>(() => ++n, { messages: 10, bytes: 100 });
  assert.equal(bytes.push('x', 60), true);
  assert.equal(bytes.push('y', 60), false, 'the byte bound too');
  // Closed is said only once everything left was taken.
  bytes.close();
  const rest = await bytes.take(0, 0);
  assert.deepEqual([rest.messages.map((m) => m.message), rest.closed], [['x'], false]);
  assert.equal((await bytes.take(rest.messages[0]!.n, 0)).closed, true);
});
