/**
 * Consultation signaling on the reference backend, on SQLite and on
 * PostgreSQL, through the real HTTP surface and real WebSockets (`ws`):
 * starting a call is refused for a patient the clinician may not write and
 * for another patient's Encounter (the uniform 404); a join link works once,
 * and a reused, expired or foreign link is refused with one clear error while
 * the call goes on for the others (also two joins racing for one link); an
 * uninvited clinician is refused; garbled, oversized and schema-invalid
 * messages are answered INVALID_MESSAGE and the others keep receiving; key
 * messages reach only their `to`, in seq order; a call key not signed by the
 * session's device is refused; a full call, an ended call, media without
 * e2ee; the backend's audit chain holds start, joins, code confirmation and
 * end without token or key; the join page is served with the strict CSP.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { migrate, openDatabase, type Db } from '../server/database';
import { addClinician, revokeDevice } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { RelyingParty } from '../server/auth/relying-party';
import { CONTENT_SECURITY_POLICY } from '../shared/content-security-policy';
import { CONSULT_CALLS_PATH, CONSULT_INVITED_PATH, consultInvitationsPath } from '../shared/consult/consult-api';
import { parseJoinFragment } from '../shared/consult/join-link';
import { JOIN_PAGE_PATH, SIGNALING_MESSAGE_MAX_BYTES } from '../shared/consult/signaling-messages';
import type { CacheSession } from '../electron/services/cache-session';
import { registerDevice } from './support/backend-db';
import { startBackend } from './support/backend-process';
import { freshPostgresDatabase } from './support/postgres';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { SignalingPeer, callPublicKey, deviceKeyPair, joinAs, signedCallKey, type Message } from './support/signaling-peer';

type Json = Record<string, unknown>;

const P1 = 'sig-patient-1';
const P2 = 'sig-patient-2';
const ENC1 = 'sig-enc-1';
const ENC2 = 'sig-enc-2';

interface Clinician {
  id: string;
  token: string;
  device: { publicKey: KeyObject; privateKey: KeyObject };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`consultation signaling, backend on ${engine}`, () => {
    const dir = scratchDir('signaling');
    const rendererDir = join(dir.path, 'renderer');
    let offsetMs = 0;
    const clock = () => new Date(Date.now() + offsetMs);
    let db: Db;
    let pg: { url: string; drop(): Promise<void> } | null = null;
    let app: FastifyInstance;
    let url: string;
    const people: Record<'host' | 'colleague' | 'outsider', Clinician> = {} as never;
    const peers: SignalingPeer[] = [];

    async function call(method: 'GET' | 'POST', path: string, token: string | null, body?: unknown) {
      const r = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, text, headers: r.headers, json: (text.startsWith('{') ? JSON.parse(text) : null) as Json };
    }

    async function startCall(who: Clinician = people.host, patientId = P1, encounterId = ENC1): Promise<string> {
      const r = await call('POST', CONSULT_CALLS_PATH, who.token, { patientId, encounterId });
      assert.equal(r.status, 200, r.text);
      return String(r.json.callId);
    }

    async function linkFor(callId: string, kind: 'patient' | 'interpreter' | 'family' = 'patient'): Promise<{ callId: string; token: string }> {
      const r = await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind } });
      assert.equal(r.status, 200, r.text);
      const link = String(r.json.link);
      assert.ok(link.startsWith(`https://patients.example${JOIN_PAGE_PATH}#`), 'the link is on the public address, token in the fragment');
      const parsed = parseJoinFragment(new URL(link).hash);
      assert.ok(parsed);
      return parsed;
    }

    async function open(token?: string): Promise<SignalingPeer> {
      const peer = await SignalingPeer.open(url, token);
      peers.push(peer);
      return peer;
    }

    /** A clinician joined with a call key signed by their own device. */
    async function clinicianJoins(who: Clinician, callId: string): Promise<{ peer: SignalingPeer; welcome: Message }> {
      const peer = await open(who.token);
      const welcome = await joinAs(peer, callId, signedCallKey(callId, callPublicKey(), who.device.privateKey));
      assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
      return { peer, welcome };
    }

    async function guestJoins(link: { callId: string; token: string }): Promise<{ peer: SignalingPeer; welcome: Message }> {
      const peer = await open();
      const welcome = await joinAs(peer, link.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, link.token);
      assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
      return { peer, welcome };
    }

    const sealed = (to: string, epoch: number) => ({ type: 'key', to, epoch, enc: Buffer.alloc(32, epoch).toString('base64url'), ciphertext: Buffer.alloc(48, epoch + 1).toString('base64url') });

    before(async () => {
      pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
      db = openDatabase({ databaseUrl: pg?.url, dataDir: dir.path }).db;
      await migrate(db);
      for (const [patientId, encounterId] of [
        [P1, ENC1],
        [P2, ENC2],
      ] as const) {
        await db.insertInto('resources').values({ resource_type: 'Patient', id: patientId, patient_id: patientId, json: JSON.stringify({ resourceType: 'Patient', id: patientId }) }).execute();
        await db
          .insertInto('resources')
          .values({ resource_type: 'Encounter', id: encounterId, patient_id: patientId, json: JSON.stringify({ resourceType: 'Encounter', id: encounterId, subject: { reference: `Patient/${patientId}` } }) })
          .execute();
      }
      for (const [role, id, patients] of [
        ['host', 'dr.host', [P1]],
        ['colleague', 'dr.colleague', [P1]],
        ['outsider', 'dr.outsider', [P2]],
      ] as const) {
        await addClinician(db, id, `Dr ${role}`, clock);
        await assignPatients(db, id, [...patients]);
        const device = deviceKeyPair();
        const token = await registerDevice(db, id, { profile: { profileId: randomUUID() }, keys: { publicKey: device.publicKey } } as unknown as CacheSession);
        people[role] = { id, token, device };
      }
      app = buildApp({
        db,
        rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'Test', origins: ['http://localhost'] }, clock),
        clock,
        receiptKey: loadReceiptKey(dir.path),
        consult: { publicUrl: 'https://patients.example', databaseUrl: pg?.url, rendererDir, inviteTtlSeconds: 300, socketLimits: { invalidPerConnection: 5, sessionCheckMs: 250 } },
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

    test('starting a call is refused for a patient the clinician may not write and for another patient\'s Encounter, with the uniform 404; the start is audited', async () => {
      const missing = await call('POST', CONSULT_CALLS_PATH, people.host.token, { patientId: P1, encounterId: 'sig-no-such-encounter' });
      assert.equal(missing.status, 404);
      const foreignEncounter = await call('POST', CONSULT_CALLS_PATH, people.host.token, { patientId: P1, encounterId: ENC2 });
      const unassigned = await call('POST', CONSULT_CALLS_PATH, people.outsider.token, { patientId: P1, encounterId: ENC1 });
      for (const r of [foreignEncounter, unassigned]) {
        assert.equal(r.status, 404, r.text);
        assert.deepEqual(r.json, missing.json, 'the same answer as for an Encounter that does not exist');
      }
      assert.equal((missing.json.error as Json).code, 'NOT_FOUND');
      const noSession = await call('POST', CONSULT_CALLS_PATH, null, { patientId: P1, encounterId: ENC1 });
      assert.equal(noSession.status, 401);
      const calls = await db.selectFrom('consult_calls').select('id').execute();
      assert.equal(calls.length, 0, 'nothing was started');

      const callId = await startCall();
      const entries = await db.selectFrom('disclosure_events').select(['entry', 'patient_id']).execute();
      const start = entries.map((e) => JSON.parse(e.entry) as unknown[]).find((e) => e[5] === 'consult-start');
      assert.ok(start, 'consult-start is in the backend chain');
      assert.equal(start[3], 'dr.host');
      assert.equal(start[6], P1);
      assert.ok((start[7] as string[]).includes(`urn:clinician-desktop:consult-call:${callId}`));
      assert.ok((start[7] as string[]).includes(`Encounter/${ENC1}`));

      // Only the host invites; a clinician who may not read the patient cannot be invited.
      const byOther = await call('POST', consultInvitationsPath(callId), people.colleague.token, { invitee: { kind: 'patient' } });
      assert.equal(byOther.status, 404);
      assert.deepEqual(byOther.json, missing.json);
      const outsiderInvited = await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: 'dr.outsider' } });
      assert.equal(outsiderInvited.status, 404);
      assert.deepEqual(outsiderInvited.json, missing.json);
      const noSuchCall = await call('POST', consultInvitationsPath(randomUUID()), people.host.token, { invitee: { kind: 'patient' } });
      assert.equal(noSuchCall.status, 404);
      assert.deepEqual(noSuchCall.json, missing.json);
    });

    test('a join link works once: a reused, an expired and another call\'s link are refused with one clear error while the call goes on; two joins racing for one link get one seat', async () => {
      const callId = await startCall();
      const host = await clinicianJoins(people.host, callId);
      assert.equal(host.welcome.participantId, (host.welcome.roster as Json[])[0]!.participantId);
      const link = await linkFor(callId);
      const stored = await db.selectFrom('consult_invitations').selectAll().where('call_id', '=', callId).execute();
      assert.equal(stored.length, 1);
      assert.notEqual(stored[0]!.token_hash, link.token, 'only the token\'s hash is stored');
      assert.ok(!JSON.stringify(stored).includes(link.token), 'the token is nowhere in the row');

      const guest = await guestJoins(link);
      assert.equal((guest.welcome.roster as Json[]).length, 2);
      const joined = await host.peer.next((m) => m.type === 'joined' && (m.participant as Json).participantId === guest.welcome.participantId, 'host hears the guest join');
      assert.equal((joined.participant as Json).role, 'patient');
      assert.equal((joined.participant as Json).devicePublicKey, null);

      // The same link again: refused, with the one NOT_ALLOWED text.
      const reused = await open();
      await joinAs(reused, link.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, link.token);
      const reusedRefusal = await reused.refused('reused link');
      assert.equal(reusedRefusal.error.code, 'NOT_ALLOWED');
      assert.equal(reusedRefusal.close.code, 1008);

      // An expired link (its lifetime is 300 s here).
      const expiring = await linkFor(callId, 'interpreter');
      offsetMs += 301_000;
      const late = await open();
      await joinAs(late, expiring.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, expiring.token);
      const lateRefusal = await late.refused('expired link');
      offsetMs -= 301_000;
      assert.deepEqual(lateRefusal.error, reusedRefusal.error, 'an expired link gets exactly the reused link\'s answer');

      // A valid link of another call, presented for this one.
      const otherCall = await startCall();
      const otherLink = await linkFor(otherCall);
      const foreign = await open();
      await joinAs(foreign, callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, otherLink.token);
      assert.deepEqual((await foreign.refused('foreign link')).error, reusedRefusal.error);

      // The call went on: a key from the guest still reaches the host.
      guest.peer.send(sealed(String(host.welcome.participantId), 1));
      const key = await host.peer.next((m) => m.type === 'key', 'key after the refusals');
      assert.equal(key.from, guest.welcome.participantId);
      assert.equal(guest.peer.closed, null);
      assert.equal(host.peer.closed, null);

      // Two sockets racing for one fresh link: both pass hello, exactly one joins.
      const contested = await linkFor(callId, 'family');
      const [a, b] = [await open(), await open()];
      for (const p of [a, b]) p.send({ type: 'hello', callId, token: contested.token });
      for (const p of [a, b]) p.send({ type: 'join', callKey: { publicKey: Buffer.from(callPublicKey()).toString('base64url') } });
      const outcomes = await Promise.all([a, b].map((p) => p.next((m) => m.type === 'welcome' || m.type === 'error', 'race outcome')));
      assert.deepEqual(outcomes.map((o) => o.type).sort(), ['error', 'welcome']);
      assert.equal(outcomes.find((o) => o.type === 'error')!.code, 'NOT_ALLOWED');
      const used = await db.selectFrom('consult_participants').select('participant_id').where('call_id', '=', callId).where('role', '=', 'guest').execute();
      assert.equal(used.length, 1, 'one seat for one link');
    });

    test('an uninvited clinician is refused; invited, the same clinician sees the call in /consult/invited and joins with a signed call key', async () => {
      const callId = await startCall();
      const host = await clinicianJoins(people.host, callId);
      for (const who of [people.colleague, people.outsider]) {
        const peer = await open(who.token);
        await joinAs(peer, callId, signedCallKey(callId, callPublicKey(), who.device.privateKey));
        const { error, close } = await peer.refused(`${who.id} uninvited`);
        assert.equal(error.code, 'NOT_ALLOWED');
        assert.equal(close.code, 1008);
      }
      // A call id that does not exist gets the same answer.
      const ghost = await open(people.colleague.token);
      await joinAs(ghost, randomUUID(), signedCallKey(callId, callPublicKey(), people.colleague.device.privateKey));
      assert.equal((await ghost.refused('no such call')).error.code, 'NOT_ALLOWED');
      // A bad session is refused before the upgrade.
      const forged = await SignalingPeer.open(url, 'not-a-session-token-at-all');
      assert.equal(forged.refusedStatus, 401);

      const before = await call('GET', CONSULT_INVITED_PATH, people.colleague.token);
      assert.ok(!(before.json.calls as Json[]).some((c) => c.callId === callId));
      const invited = await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: 'dr.colleague' } });
      assert.equal(invited.status, 200, invited.text);
      assert.equal(invited.json.link, null);
      const listed = await call('GET', CONSULT_INVITED_PATH, people.colleague.token);
      const entry = (listed.json.calls as Json[]).find((c) => c.callId === callId);
      assert.ok(entry);
      assert.equal(entry.patientId, P1);
      assert.equal(entry.startedBy, 'Dr host');
      const colleague = await clinicianJoins(people.colleague, callId);
      const seen = await host.peer.next((m) => m.type === 'joined' && (m.participant as Json).participantId === colleague.welcome.participantId, 'host sees colleague');
      const participant = seen.participant as Json;
      assert.equal(participant.role, 'clinician');
      assert.equal(participant.devicePublicKey, people.colleague.device.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), 'the roster carries the device key from the directory');
      assert.ok((participant.callKey as Json).signature, 'and the signature, so others verify it too');
      assert.notEqual(participant.index, (host.welcome.roster as Json[])[0]!.index, 'a sender index of its own');
    });

    test('a call key not signed by the session\'s device key is refused', async () => {
      const callId = await startCall();
      const pub = callPublicKey();
      const cases = [
        ['signed by another key', signedCallKey(callId, pub, deviceKeyPair().privateKey)],
        ['signed for another call', { ...signedCallKey(randomUUID(), pub, people.host.device.privateKey), publicKey: Buffer.from(pub).toString('base64url') }],
        ['not signed', { publicKey: Buffer.from(pub).toString('base64url') }],
      ] as const;
      for (const [what, callKey] of cases as ReadonlyArray<readonly [string, { publicKey: string; signature?: string }]>) {
        const peer = await open(people.host.token);
        await joinAs(peer, callId, callKey);
        const { error } = await peer.refused(what);
        assert.equal(error.code, 'NOT_ALLOWED', what);
        assert.match(String(error.message), /not signed by this device/);
      }
      assert.equal((await db.selectFrom('consult_participants').select('participant_id').where('call_id', '=', callId).execute()).length, 0);
    });

    test('garbled JSON, oversized and schema-invalid messages are answered INVALID_MESSAGE; the sender stays, the others keep receiving; a flood of them ends only that connection', async () => {
      const callId = await startCall();
      const host = await clinicianJoins(people.host, callId);
      const guest = await guestJoins(await linkFor(callId));
      const hostId = String(host.welcome.participantId);
      const guestId = String(guest.welcome.participantId);

      const bad: unknown[] = [
        '{"type":"key", this is not json',
        JSON.stringify({ type: 'key', to: hostId, epoch: 1, enc: 'x'.repeat(SIGNALING_MESSAGE_MAX_BYTES), ciphertext: 'AA' }),
        { type: 'key', to: hostId },
        { type: 'key', to: hostId, epoch: 1, enc: '!!', ciphertext: 'AA' },
        Buffer.from([0, 1, 2, 3]),
      ];
      for (const [i, message] of bad.entries()) {
        const from = guest.peer.messages.length;
        if (Buffer.isBuffer(message)) guest.peer.ws.send(message, { binary: true });
        else guest.peer.send(message);
        const answer = await guest.peer.next((m) => m.type === 'error', `bad message ${i}`, from);
        assert.equal(answer.code, 'INVALID_MESSAGE', `bad message ${i}`);
      }
      // Still in the call, both ways.
      guest.peer.send(sealed(hostId, 2));
      assert.equal((await host.peer.next((m) => m.type === 'key' && m.epoch === 2, 'guest key after garbage')).from, guestId);
      host.peer.send(sealed(guestId, 3));
      assert.equal((await guest.peer.next((m) => m.type === 'key' && m.epoch === 3, 'host key after garbage')).from, hostId);

      // Garbage before the join: answered, and the socket is closed (there is no call to keep).
      const early = await open();
      early.send('garbage');
      const earlyRefusal = await early.refused('garbage first');
      assert.equal(earlyRefusal.error.code, 'INVALID_MESSAGE');

      // A sixth invalid message (the limit is 5 here) ends the guest's connection; the host hears it left and goes on.
      guest.peer.send('garbage');
      const flooded = await guest.peer.refused('flood');
      assert.ok(guest.peer.messages.some((m) => m.type === 'error' && m.code === 'RATE_LIMITED'), JSON.stringify(guest.peer.messages.slice(-3)));
      assert.equal(flooded.close.code, 1008);
      await host.peer.next((m) => m.type === 'left' && m.participantId === guestId, 'host hears the flooder left');
      assert.equal(host.peer.closed, null);
    });

    test('sas-commit and sas-reveal reach every participant in seq order, from the sender, with their round; code-confirmed carries the round and code it confirmed', async () => {
      const callId = await startCall();
      const host = await clinicianJoins(people.host, callId);
      const guest = await guestJoins(await linkFor(callId));
      const [hostId, guestId] = [host, guest].map((p) => String(p.welcome.participantId)) as [string, string];
      const round = Number(guest.welcome.seq);
      const commitment = Buffer.alloc(32, 7).toString('base64url');
      const nonce = Buffer.alloc(32, 9).toString('base64url');
      host.peer.send({ type: 'sas-commit', round, commitment });
      await guest.peer.next((m) => m.type === 'sas-commit', 'host commitment at the guest');
      guest.peer.send({ type: 'sas-commit', round, commitment });
      await host.peer.next((m) => m.type === 'sas-commit' && m.from === guestId, 'guest commitment at the host');
      host.peer.send({ type: 'sas-reveal', round, nonce });
      host.peer.send({ type: 'code-confirmed', round, code: '042042' });
      for (const p of [host, guest]) {
        const confirmed = await p.peer.next((m) => m.type === 'code-confirmed', 'code-confirmed');
        assert.deepEqual({ ...confirmed, seq: 0 }, { type: 'code-confirmed', seq: 0, participantId: hostId, round, code: '042042' });
        const sas = p.peer.messages.filter((m) => m.type === 'sas-commit' || m.type === 'sas-reveal');
        assert.deepEqual(sas.map((m) => [m.type, m.from, m.round]), [['sas-commit', hostId, round], ['sas-commit', guestId, round], ['sas-reveal', hostId, round]]);
        assert.deepEqual(sas.map((m) => m.commitment ?? m.nonce), [commitment, commitment, nonce]);
        const seqs = sas.map((m) => Number(m.seq));
        assert.ok(seqs.every((n, i) => i === 0 || n > seqs[i - 1]!) && seqs[0]! > round, 'ordered after the roster round');
      }
      // Not 32 bytes, or no round: refused, never relayed.
      let mark = host.peer.messages.length;
      host.peer.send({ type: 'sas-reveal', round, nonce: nonce.slice(0, 40) });
      assert.equal((await host.peer.next((m) => m.type === 'error', 'short nonce refused', mark)).code, 'INVALID_MESSAGE');
      mark = host.peer.messages.length;
      host.peer.send({ type: 'code-confirmed', code: '123456' });
      assert.equal((await host.peer.next((m) => m.type === 'error', 'code-confirmed without round refused', mark)).code, 'INVALID_MESSAGE');
      assert.equal(guest.peer.messages.filter((m) => m.type === 'sas-reveal').length, 1, 'nothing refused was relayed');
    });

    test('key messages reach only their `to`, in seq order; events carry increasing seqs', async () => {
      const callId = await startCall();
      await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: 'dr.colleague' } });
      const host = await clinicianJoins(people.host, callId);
      const colleague = await clinicianJoins(people.colleague, callId);
      const guest = await guestJoins(await linkFor(callId));
      const [hostId, colleagueId, guestId] = [host, colleague, guest].map((p) => String(p.welcome.participantId)) as [string, string, string];
      for (const epoch of [1, 2, 3]) host.peer.send(sealed(guestId, epoch));
      host.peer.send(sealed(colleagueId, 9));
      host.peer.send({ type: 'code-confirmed', round: Number(guest.welcome.seq), code: '123456' });
      for (const p of [host, colleague, guest]) await p.peer.next((m) => m.type === 'code-confirmed' && m.participantId === hostId, 'code-confirmed');
      const keysOf = (p: SignalingPeer) => p.messages.filter((m) => m.type === 'key');
      assert.deepEqual(keysOf(guest.peer).map((m) => m.epoch), [1, 2, 3], 'the guest gets its three keys, in order');
      assert.deepEqual(keysOf(colleague.peer).map((m) => m.epoch), [9], 'the colleague only its own');
      assert.deepEqual(keysOf(host.peer), [], 'the sender gets none back');
      for (const p of [host, colleague, guest]) {
        const seqs = p.peer.messages.filter((m) => typeof m.seq === 'number').map((m) => Number(m.seq));
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'seq order');
        assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
      }
      // A key to someone not in the call: refused, the sender stays.
      host.peer.send(sealed('nobody-in-this-call', 4));
      assert.equal((await host.peer.type('error', 'key to a stranger')).code, 'NOT_ALLOWED');
      assert.equal(host.peer.closed, null);
    });

    test('the fifth participant is refused CALL_FULL; media without a media server is MEDIA_UNAVAILABLE and without e2ee E2EE_REQUIRED; the host ends the call for all, then it cannot be joined; all of it audited without token or key', async () => {
      const callId = await startCall();
      await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: 'dr.colleague' } });
      const host = await clinicianJoins(people.host, callId);
      const colleague = await clinicianJoins(people.colleague, callId);
      const links = [await linkFor(callId), await linkFor(callId, 'interpreter'), await linkFor(callId, 'family')];
      const g1 = await guestJoins(links[0]!);
      const g2 = await guestJoins(links[1]!);
      const fifth = await open();
      await joinAs(fifth, links[2]!.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, links[2]!.token);
      assert.equal((await fifth.refused('fifth')).error.code, 'CALL_FULL');
      const indices = [host, colleague, g1, g2].map((p) => Number(p.welcome.participantId ? (p.welcome.roster as Json[]).find((r) => r.participantId === p.welcome.participantId)!.index : -1));
      assert.equal(new Set(indices).size, 4, 'unique sender indices');

      g1.peer.send({ type: 'publish', jsep: { type: 'offer', sdp: 'v=0\r\n' } });
      assert.equal((await g1.peer.type('error', 'publish without e2ee')).code, 'E2EE_REQUIRED');
      const from = g1.peer.messages.length;
      g1.peer.send({ type: 'publish', jsep: { type: 'offer', sdp: 'v=0\r\n', e2ee: true } });
      assert.equal((await g1.peer.next((m) => m.type === 'error', 'publish without media server', from)).code, 'MEDIA_UNAVAILABLE');

      // Codes match, confirmed by the colleague; the guest may not end the call for everyone.
      colleague.peer.send({ type: 'code-confirmed', round: Number(g2.welcome.seq), code: '654321' });
      await host.peer.next((m) => m.type === 'code-confirmed', 'code confirmed');
      const before = g2.peer.messages.length;
      g2.peer.send({ type: 'end' });
      assert.equal((await g2.peer.next((m) => m.type === 'error', 'guest end', before)).code, 'NOT_ALLOWED');
      host.peer.send({ type: 'end' });
      for (const p of [host, colleague, g1, g2]) {
        const ended = await p.peer.type('ended', 'ended');
        assert.equal(ended.reason, 'host-ended');
        assert.equal((await p.peer.closedPromise).code, 1000);
      }
      const again = await open(people.host.token);
      await joinAs(again, callId, signedCallKey(callId, callPublicKey(), people.host.device.privateKey));
      assert.equal((await again.refused('ended call')).error.code, 'CALL_ENDED');
      const listed = await call('GET', CONSULT_INVITED_PATH, people.colleague.token);
      assert.ok(!(listed.json.calls as Json[]).some((c) => c.callId === callId), 'an ended call is no longer listed');

      const rows = await db.selectFrom('disclosure_events').select(['entry', 'event']).orderBy('seq').execute();
      const mine = rows.filter((r) => r.entry.includes(`consult-call:${callId}`));
      const steps = mine.map((r) => (JSON.parse(r.entry) as unknown[])[5]);
      assert.deepEqual(steps, ['consult-start', 'consult-join', 'consult-join', 'consult-join', 'consult-join', 'consult-code-confirmed', 'consult-end']);
      const roles = mine.map((r) => ((JSON.parse(r.entry) as unknown[])[7] as string[]).find((e) => e.includes('consult-role:'))!.split(':').at(-1));
      assert.deepEqual(roles, ['host', 'host', 'clinician', 'patient', 'guest', 'clinician', 'host']);
      for (const r of mine) {
        assert.equal((JSON.parse(r.entry) as unknown[])[6], P1, 'each names the patient');
        for (const l of links) assert.ok(!r.entry.includes(l.token) && !r.event.includes(l.token), 'never the token');
        assert.ok(!r.entry.includes('654321'), 'never the code');
      }
      const keys = await db.selectFrom('consult_participants').select('public_key').where('call_id', '=', callId).execute();
      for (const r of mine) for (const k of keys) assert.ok(!r.entry.includes(k.public_key), 'never a key');
    });

    test('a clinician whose device is revoked during the call is put out of it; the others hear the leave and go on', async () => {
      const callId = await startCall();
      await addClinician(db, 'dr.leaving', 'Dr Leaving', clock);
      await assignPatients(db, 'dr.leaving', [P1]);
      const deviceId = randomUUID();
      const device = deviceKeyPair();
      const leaving: Clinician = { id: 'dr.leaving', device, token: await registerDevice(db, 'dr.leaving', { profile: { profileId: deviceId }, keys: { publicKey: device.publicKey } } as unknown as CacheSession) };
      await call('POST', consultInvitationsPath(callId), people.host.token, { invitee: { kind: 'clinician', clinicianId: 'dr.leaving' } });
      const host = await clinicianJoins(people.host, callId);
      const other = await clinicianJoins(leaving, callId);
      await revokeDevice(db, deviceId, clock);
      const { error, close } = await other.peer.refused('revoked device');
      assert.equal(error.code, 'NOT_ALLOWED');
      assert.equal(close.code, 1008);
      await host.peer.next((m) => m.type === 'left' && m.participantId === other.welcome.participantId, 'host hears the revoked clinician left');
      // The call goes on: someone else still joins it and the host hears so (a code confirmation needs two in the call).
      const guest = await guestJoins(await linkFor(callId));
      await host.peer.next((m) => m.type === 'joined' && (m.participant as { participantId: string }).participantId === guest.welcome.participantId, 'the call goes on');
    });

    test('every message the backend sent in these calls matches the protocol\'s serverMessageSchema', () => {
      assert.ok(peers.length > 20);
      for (const p of peers) assert.deepEqual(p.offSchema, []);
    });

    test('the join page: a clear 503 until it is built, then served with the strict CSP and no-store, with only the files it reaches', async () => {
      const missing = await call('GET', JOIN_PAGE_PATH, null);
      assert.equal(missing.status, 503);
      assert.equal((missing.json.error as Json).code, 'CONSULT_UNAVAILABLE');
      mkdirSync(join(rendererDir, 'assets'), { recursive: true });
      writeFileSync(join(rendererDir, 'join.html'), '<!doctype html><script type="module" src="./assets/join-abc.js"></script>');
      writeFileSync(join(rendererDir, 'assets', 'join-abc.js'), 'import "./shared-def.js"; new Worker(new URL("media-worker-123.js", import.meta.url));');
      writeFileSync(join(rendererDir, 'assets', 'shared-def.js'), 'export const x = 1;');
      writeFileSync(join(rendererDir, 'assets', 'media-worker-123.js'), 'self.onmessage = () => {};');
      writeFileSync(join(rendererDir, 'assets', 'index-desktop.js'), 'desktop app only');
      const page = await call('GET', JOIN_PAGE_PATH, null);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.match(String(page.headers.get('content-type')), /text\/html/);
      for (const name of ['join-abc.js', 'shared-def.js', 'media-worker-123.js']) {
        const asset = await call('GET', `/assets/${name}`, null);
        assert.equal(asset.status, 200, name);
        assert.equal(asset.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, `${name}: a worker gets its CSP from its own response`);
        assert.match(String(asset.headers.get('content-type')), /javascript/);
      }
      for (const path of ['/assets/index-desktop.js', '/assets/..%2Fjoin.html', '/assets/nothing.js']) {
        assert.equal((await call('GET', path, null)).status, 404, path);
      }
    });
  });
}

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: the backend refuses to start with --janus-url but no --janus-secret-file (never talks to Janus without its API secret)`, async () => {
    const dir = scratchDir('janus-flags');
    const database = engine === 'postgres' ? await freshPostgresDatabase() : null;
    try {
      const outcome = await startBackend({ dataDir: join(dir.path, 'data'), origins: ['http://localhost:5173'], engine, ...(database ? { databaseUrl: database.url } : {}), flags: ['--janus-url', 'http://127.0.0.1:8088/janus'] }).then(
        async (backend) => {
          await backend.dispose();
          return 'it started';
        },
        (error: unknown) => (error instanceof Error ? error.message : 'failed'),
      );
      assert.match(outcome, /backend exited: [\s\S]*--janus-url needs --janus-secret-file/);
    } finally {
      await database?.drop();
      dir.remove();
    }
  });
}
