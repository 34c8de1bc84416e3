/**
 * Abuse of the consultation signaling backend (issue 11, attack 11a), on
 * SQLite and on PostgreSQL, through real WebSockets against the in-process
 * backend: an invited clinician rejoining in a loop neither burns sender
 * indexes nor fills the call (the lowest index free among ACTIVE participants
 * is reused) and is rate-limited per clinician per call; code-confirmed
 * counts once per participant per roster round (no audit entry, no relay for
 * repeats) and is refused with fewer than two in the call; losing access to
 * the patient removes a clinician, and the issuing clinician losing it
 * removes their link guest, while the others get `left`; a call idle too long
 * or older than 12 h is ended as expired at the next hello; not-yet-joined
 * sockets are capped per address and overall; refused hellos are aggregated
 * into one security log line per address per window, with a count.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { migrate, openDatabase, type Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients, unassignPatients } from '../server/organisation/assignments';
import { RelyingParty } from '../server/auth/relying-party';
import { setSecurityLogger } from '../server/monitoring/security-log';
import { CONSULT_CALLS_PATH, consultInvitationsPath } from '../shared/consult/consult-api';
import { parseJoinFragment } from '../shared/consult/join-link';
import { SIGNALING_PATH, clientMessageSchema } from '../shared/consult/signaling-messages';
import type { CacheSession } from '../electron/services/cache-session';
import { registerDevice } from './support/backend-db';
import { freshPostgresDatabase } from './support/postgres';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { SignalingPeer, callPublicKey, deviceKeyPair, joinAs, signedCallKey, type Message } from './support/signaling-peer';

type Json = Record<string, unknown>;
const P1 = 'abuse-patient-1';
const ENC1 = 'abuse-enc-1';
const PER_ADDRESS = 3;
const TOTAL = 5;
const LOG_WINDOW_MS = 2_000;

interface Clinician {
  id: string;
  token: string;
  device: { publicKey: KeyObject; privateKey: KeyObject };
}

/** Captured security log lines (pino JSON), with a way to wait for one. */
const securityLines: Json[] = [];
let lineWaiters: Array<() => void> = [];
setSecurityLogger(
  pino(
    { base: null },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) securityLines.push(JSON.parse(line) as Json);
        const w = lineWaiters;
        lineWaiters = [];
        for (const f of w) f();
        done();
      },
    }),
  ),
);
async function lineMatching(match: (l: Json) => boolean, ms = 10_000): Promise<Json> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = securityLines.find(match);
    if (found) return found;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('no such security log line');
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      lineWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`consultation signaling abuse, backend on ${engine}`, () => {
    const dir = scratchDir('signaling-abuse');
    let offsetMs = 0;
    const clock = () => new Date(Date.now() + offsetMs);
    let db: Db;
    let pg: { url: string; drop(): Promise<void> } | null = null;
    let app: FastifyInstance;
    let url: string;
    const people: Record<'host' | 'colleague' | 'third', Clinician> = {} as never;
    const peers: SignalingPeer[] = [];

    async function call(method: 'GET' | 'POST', path: string, token: string | null, body?: unknown) {
      const r = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, text, json: (text.startsWith('{') ? JSON.parse(text) : null) as Json };
    }
    async function startCall(): Promise<string> {
      const r = await call('POST', CONSULT_CALLS_PATH, people.host.token, { patientId: P1, encounterId: ENC1 });
      assert.equal(r.status, 200, r.text);
      return String(r.json.callId);
    }
    async function invite(callId: string, who: Clinician): Promise<void> {
      const r = await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: who.id } });
      assert.equal(r.status, 200, r.text);
    }
    async function linkFor(callId: string): Promise<{ callId: string; token: string }> {
      const r = await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'patient' } });
      assert.equal(r.status, 200, r.text);
      return parseJoinFragment(new URL(String(r.json.link)).hash)!;
    }
    async function open(token?: string): Promise<SignalingPeer> {
      const peer = await SignalingPeer.open(url, token);
      peers.push(peer);
      return peer;
    }
    async function clinicianTries(who: Clinician, callId: string): Promise<{ peer: SignalingPeer; welcome: Message }> {
      const peer = await open(who.token);
      const welcome = await joinAs(peer, callId, signedCallKey(callId, callPublicKey(), who.device.privateKey));
      return { peer, welcome };
    }
    async function clinicianJoins(who: Clinician, callId: string): Promise<{ peer: SignalingPeer; welcome: Message }> {
      const r = await clinicianTries(who, callId);
      assert.equal(r.welcome.type, 'welcome', JSON.stringify(r.welcome));
      return r;
    }
    async function guestJoins(link: { callId: string; token: string }): Promise<{ peer: SignalingPeer; welcome: Message }> {
      const peer = await open();
      const welcome = await joinAs(peer, link.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, link.token);
      assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
      return { peer, welcome };
    }
    /** The roster round a page confirms for: the seq of the latest roster change it saw (welcome, joined, left). */
    const roundOf = (peer: SignalingPeer) => Math.max(...peer.messages.filter((m) => m.type === 'welcome' || m.type === 'joined' || m.type === 'left').map((m) => Number(m.seq)));
    // The page names the round it confirms once the SAS commit-reveal protocol (its `round` field) is in the schema.
    const withRound = !clientMessageSchema.safeParse({ type: 'code-confirmed', code: '123456' }).success;
    const confirm = (peer: SignalingPeer, code = '123456') => peer.send({ type: 'code-confirmed', ...(withRound ? { round: roundOf(peer) } : {}), code });
    const indexOf = (welcome: Message) => Number((welcome.roster as Array<{ participantId: string; index: number }>).find((p) => p.participantId === welcome.participantId)!.index);
    async function codeConfirmedEntries(callId: string): Promise<number> {
      const rows = await db.selectFrom('disclosure_events').select('entry').execute();
      return rows.filter((r) => r.entry.includes(callId) && (JSON.parse(r.entry) as unknown[])[5] === 'consult-code-confirmed').length;
    }
    /** A raw socket from a chosen loopback source address; resolves 'open' or how it was closed. */
    async function rawSocket(localAddress: string): Promise<{ ws: WebSocket; closed: Promise<number>; state: () => 'open' | 'closed' }> {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${SIGNALING_PATH}`, { localAddress });
      let isClosed = false;
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => ((isClosed = true), resolve(code))));
      ws.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        ws.once('open', () => resolve());
        ws.once('close', () => resolve());
      });
      return { ws, closed, state: () => (isClosed ? 'closed' : 'open') };
    }

    before(async () => {
      pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
      db = openDatabase({ databaseUrl: pg?.url, dataDir: dir.path }).db;
      await migrate(db);
      await db.insertInto('resources').values({ resource_type: 'Patient', id: P1, patient_id: P1, json: JSON.stringify({ resourceType: 'Patient', id: P1 }) }).execute();
      await db.insertInto('resources').values({ resource_type: 'Encounter', id: ENC1, patient_id: P1, json: JSON.stringify({ resourceType: 'Encounter', id: ENC1, subject: { reference: `Patient/${P1}` } }) }).execute();
      for (const [role, id] of [
        ['host', 'dr.abuse-host'],
        ['colleague', 'dr.abuse-colleague'],
        ['third', 'dr.abuse-third'],
      ] as const) {
        await addClinician(db, id, `Dr ${role}`, clock);
        await assignPatients(db, id, [P1]);
        const device = deviceKeyPair();
        const token = await registerDevice(db, id, { profile: { profileId: randomUUID() }, keys: { publicKey: device.publicKey } } as unknown as CacheSession);
        people[role] = { id, token, device };
      }
      app = buildApp({
        db,
        rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock),
        clock,
        receiptKey: loadReceiptKey(dir.path),
        consult: {
          publicUrl: 'https://patients.example',
          databaseUrl: pg?.url,
          rendererDir: join(dir.path, 'renderer'),
          inviteTtlSeconds: 300,
          socketLimits: { sessionCheckMs: 150, unjoinedPerAddress: PER_ADDRESS, unjoinedTotal: TOTAL, refusalLogWindowMs: LOG_WINDOW_MS },
        },
      });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    after(async () => {
      for (const p of peers) p.ws.terminate();
      await app?.close();
      await db?.destroy();
      await pg?.drop();
      dir.remove();
    });

    test('a clinician who rejoins takes the lowest sender index free among active participants, so rejoining never fills the call', async () => {
      const callId = await startCall();
      await invite(callId, people.colleague);
      const host = await clinicianJoins(people.host, callId);
      assert.equal(indexOf(host.welcome), 0);
      let colleague = await clinicianJoins(people.colleague, callId);
      assert.equal(indexOf(colleague.welcome), 1);
      for (let i = 0; i < 5; i++) {
        const from = host.peer.messages.length;
        colleague.peer.ws.terminate();
        await host.peer.next((m) => m.type === 'left' && m.participantId === colleague.welcome.participantId, 'the colleague left', from);
        offsetMs += 7_000;
        colleague = await clinicianJoins(people.colleague, callId);
        assert.equal(indexOf(colleague.welcome), 1, 'the index of the one who left is reused, not max+1');
      }
      const patient = await guestJoins(await linkFor(callId));
      assert.equal(indexOf(patient.welcome), 2);
      const active = await db.selectFrom('consult_participants').select(['sender_index']).where('call_id', '=', callId).where('left_at', 'is', null).execute();
      assert.deepEqual(active.map((r) => Number(r.sender_index)).sort(), [0, 1, 2]);
    });

    test('rejoining more than 10 times a minute is refused RATE_LIMITED for that clinician in that call, and allowed again a minute later', async () => {
      const callId = await startCall();
      await invite(callId, people.colleague);
      const host = await clinicianJoins(people.host, callId);
      for (let i = 0; i < 10; i++) await clinicianJoins(people.colleague, callId);
      const refused = await clinicianTries(people.colleague, callId);
      assert.equal(refused.welcome.type, 'error');
      assert.equal(refused.welcome.code, 'RATE_LIMITED');
      // Others are not limited by it.
      const patient = await guestJoins(await linkFor(callId));
      assert.equal(patient.welcome.type, 'welcome');
      offsetMs += 61_000;
      await clinicianJoins(people.colleague, callId);
      assert.equal(host.peer.closed, null);
    });

    test('code-confirmed counts once per participant per roster round: repeats get INVALID_MESSAGE, no audit entry and no relay; refused when alone', async () => {
      const callId = await startCall();
      await invite(callId, people.colleague);
      const host = await clinicianJoins(people.host, callId);
      confirm(host.peer);
      const alone = await host.peer.next((m) => m.type === 'error', 'refused alone');
      assert.equal(alone.code, 'INVALID_MESSAGE');
      assert.equal(await codeConfirmedEntries(callId), 0, 'no audit entry while alone');

      const guest = await guestJoins(await linkFor(callId));
      const from = guest.peer.messages.length;
      for (let i = 0; i < 20; i++) confirm(guest.peer);
      await guest.peer.next(() => guest.peer.messages.slice(from).filter((m) => m.type === 'error' && m.code === 'INVALID_MESSAGE').length >= 19, '19 repeats refused', from);
      // A later event from the host proves every confirmation before it was delivered (one ordered stream).
      confirm(host.peer);
      await guest.peer.next((m) => m.type === 'code-confirmed' && m.participantId === host.welcome.participantId, "the host's confirmation");
      const fromGuest = host.peer.messages.filter((m) => m.type === 'code-confirmed' && m.participantId === guest.welcome.participantId);
      assert.equal(fromGuest.length, 1, 'relayed once');
      assert.equal(await codeConfirmedEntries(callId), 2, 'one audit entry per participant');

      // A new roster round (someone joins): each may confirm once more.
      const colleague = await clinicianJoins(people.colleague, callId);
      await guest.peer.next((m) => m.type === 'joined', 'the colleague joined');
      confirm(guest.peer, '654321');
      confirm(guest.peer, '654321');
      await colleague.peer.next((m) => m.type === 'code-confirmed' && m.participantId === guest.welcome.participantId, 'the new confirmation');
      await guest.peer.next(() => guest.peer.messages.slice(from).filter((m) => m.type === 'error').length >= 20, 'the repeat refused', from);
      assert.equal(await codeConfirmedEntries(callId), 3);
    });

    test('a clinician who loses access to the patient is removed; so is the link guest of a clinician who loses it; the others get left', async () => {
      const callId = await startCall();
      await invite(callId, people.third);
      const host = await clinicianJoins(people.host, callId);
      const guest = await guestJoins(await linkFor(callId));
      const third = await clinicianJoins(people.third, callId);
      await unassignPatients(db, people.host.id, [P1], clock);
      for (const removed of [host, guest]) {
        const ended = await removed.peer.next((m) => m.type === 'ended', 'removed');
        assert.equal(ended.reason, 'removed');
        await removed.peer.closedPromise;
        await third.peer.next((m) => m.type === 'left' && m.participantId === removed.welcome.participantId, 'left for the others');
      }
      assert.equal(third.peer.closed, null, 'the one who still may read the patient stays');
      assert.ok(!third.peer.messages.some((m) => m.type === 'ended'));
      await assignPatients(db, people.host.id, [P1], clock);
    });

    test('a call idle for 30 minutes or older than 12 hours is ended as expired at the next hello', async () => {
      const idle = await startCall();
      const host = await clinicianJoins(people.host, idle);
      host.peer.send({ type: 'leave' });
      await host.peer.closedPromise;
      await db.updateTable('consult_participants').set({ left_at: new Date(clock().getTime() - 31 * 60_000).toISOString() }).where('call_id', '=', idle).execute();
      await db.updateTable('consult_calls').set({ started_at: new Date(clock().getTime() - 2 * 3600_000).toISOString() }).where('id', '=', idle).execute();
      const again = await clinicianTries(people.host, idle);
      assert.equal(again.welcome.code, 'CALL_ENDED');
      const row = await db.selectFrom('consult_calls').select('ended_at').where('id', '=', idle).executeTakeFirstOrThrow();
      assert.ok(row.ended_at, 'marked ended');

      const old = await startCall();
      const inCall = await clinicianJoins(people.host, old);
      await db.updateTable('consult_calls').set({ started_at: new Date(clock().getTime() - 12 * 3600_000 - 60_000).toISOString() }).where('id', '=', old).execute();
      const late = await guestJoins(await linkFor(old)).catch((e: Error) => e);
      assert.ok(late instanceof Error && late.message.includes('CALL_ENDED'), String(late));
      const ended = await inCall.peer.next((m) => m.type === 'ended', 'expired for the one still in it');
      assert.equal(ended.reason, 'expired');
    });

    test('not-yet-joined sockets are capped per address and overall; a join frees a place', async () => {
      const a = [];
      for (let i = 0; i < PER_ADDRESS; i++) a.push(await rawSocket('127.0.0.1'));
      assert.ok(a.every((s) => s.state() === 'open'));
      const overAddress = await rawSocket('127.0.0.1');
      assert.equal(await overAddress.closed, 1013, 'the address is over its cap');
      const b = [];
      for (let i = 0; i < TOTAL - PER_ADDRESS; i++) b.push(await rawSocket('127.0.0.2'));
      assert.ok(b.every((s) => s.state() === 'open'));
      const overTotal = await rawSocket('127.0.0.3');
      assert.equal(await overTotal.closed, 1013, 'over the overall cap');
      for (const s of [...a, ...b]) {
        s.ws.terminate();
        await s.closed;
      }
      // Places come back: a clinician's socket joins (and then no longer counts).
      const callId = await startCall();
      const joined = [];
      for (let i = 0; i < TOTAL + 1; i++) joined.push(await clinicianJoins(people.host, callId));
      const fresh = await rawSocket('127.0.0.3');
      assert.equal(fresh.state(), 'open');
      fresh.ws.terminate();
      await fresh.closed;
    });

    test('refused hellos on /consult/ws are aggregated: at most one security line per address per window, then one with the count', async () => {
      const callId = await startCall();
      const before = securityLines.length;
      const started = Date.now();
      for (let i = 0; i < 30; i++) {
        const s = await rawSocket('127.0.0.4');
        s.ws.send(JSON.stringify({ type: 'hello', callId, token: Buffer.alloc(32, i + 1).toString('base64url') }));
        assert.equal(await s.closed, 1008);
      }
      const elapsed = Date.now() - started;
      const refusedLines = () => securityLines.slice(before).filter((l) => l.route === SIGNALING_PATH && l.event === 'access-refused' && l.ip === '127.0.0.4');
      const counted = () => refusedLines().reduce((n, l) => n + Number(l.count ?? 1), 0);
      // Every refusal is accounted for once the last window closes.
      await lineMatching(() => counted() >= 30, 4 * LOG_WINDOW_MS).catch(() => assert.fail(JSON.stringify(refusedLines())));
      const lines = refusedLines();
      assert.equal(counted(), 30, 'counts add up');
      // At most one line per window: consecutive lines are a window apart
      // (however slow the machine made the 30 refusals), so the lines are
      // one per window the refusals spanned, plus the closing count.
      for (let i = 1; i < lines.length; i++) {
        assert.ok(Number(lines[i]!.time) - Number(lines[i - 1]!.time) >= LOG_WINDOW_MS - 5, `line ${i} came ${Number(lines[i]!.time) - Number(lines[i - 1]!.time)} ms after the one before`);
      }
      assert.ok(lines.length <= 2 + Math.floor(elapsed / LOG_WINDOW_MS), `${lines.length} lines for 30 refusals over ${elapsed} ms`);
      assert.ok(lines.some((l) => Number(l.count) > 1), `one line stands for several refusals (${JSON.stringify(lines)})`);
      for (const l of refusedLines()) assert.ok(!JSON.stringify(l).includes(Buffer.alloc(32, 1).toString('base64url')) && !JSON.stringify(l).includes(callId));
    });
  });
}
