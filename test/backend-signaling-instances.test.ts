/**
 * Consultation signaling across two backend instances sharing one
 * PostgreSQL: two real backend processes on one database; the host
 * clinician's WebSocket is on instance A, the patient's (a one-time link) on
 * instance B. What one instance stores, the other learns by LISTEN/NOTIFY
 * and reads from the table, so both sides see the same ordered stream:
 * the guest's join, keys both ways (a burst in order), and the guest's leave.
 * The same link presented again at the other instance is refused.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CacheSession } from '../electron/services/cache-session';
import { openDatabase, type Db } from '../server/database';
import { CONSULT_CALLS_PATH, consultInvitationsPath } from '../shared/consult/consult-api';
import { parseJoinFragment } from '../shared/consult/join-link';
import { registerDeviceAt } from './support/backend-db';
import { startBackend, type BackendProcess } from './support/backend-process';
import { freshPostgresDatabase } from './support/postgres';
import { receiptKeyFile } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { SignalingPeer, callPublicKey, deviceKeyPair, joinAs, signedCallKey } from './support/signaling-peer';

const PATIENT = 'inst-sig-patient';
const ENCOUNTER = 'inst-sig-enc';

describe('consultation signaling across two backend instances on one PostgreSQL', () => {
  const dir = scratchDir('signaling-instances');
  let database: { url: string; drop(): Promise<void> };
  let a: BackendProcess;
  let b: BackendProcess;
  let db: Db;
  const peers: SignalingPeer[] = [];

  before(async () => {
    database = await freshPostgresDatabase();
    const common = { origins: ['http://localhost'], bundles: [], engine: 'postgres' as const, databaseUrl: database.url, receiptKeyFile: receiptKeyFile(join(dir.path, 'keys')), flags: ['--public-url', 'https://patients.example'] };
    a = await startBackend({ dataDir: join(dir.path, 'a'), ...common });
    b = await startBackend({ dataDir: join(dir.path, 'b'), ...common });
    db = openDatabase({ dataDir: join(dir.path, 'a'), databaseUrl: database.url }).db;
    await db.insertInto('resources').values({ resource_type: 'Patient', id: PATIENT, patient_id: PATIENT, json: JSON.stringify({ resourceType: 'Patient', id: PATIENT }) }).execute();
    await db.insertInto('resources').values({ resource_type: 'Encounter', id: ENCOUNTER, patient_id: PATIENT, json: JSON.stringify({ resourceType: 'Encounter', id: ENCOUNTER }) }).execute();
    a.admin(['add-clinician', 'dr.inst', '--name', 'Dr Inst']);
    a.admin(['assign', 'dr.inst', PATIENT]);
  });

  after(async () => {
    for (const p of peers) p.ws.terminate();
    await db?.destroy();
    await a?.dispose();
    await b?.dispose();
    await database?.drop();
    dir.remove();
  });

  test('a clinician on instance A and a link guest on instance B exchange join, keys and leave in one order', async () => {
    const device = deviceKeyPair();
    const token = await registerDeviceAt({ dataDir: join(dir.path, 'a'), databaseUrl: database.url }, 'dr.inst', { profile: { profileId: randomUUID() }, keys: { publicKey: device.publicKey } } as unknown as CacheSession);
    const post = async (base: string, path: string, body: unknown) => {
      const r = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, await r.clone().text());
      return (await r.json()) as Record<string, unknown>;
    };
    const { callId } = (await post(a.url, CONSULT_CALLS_PATH, { patientId: PATIENT, encounterId: ENCOUNTER })) as { callId: string };
    // The invitation is made at instance B: the call and link live in the shared database.
    const link = parseJoinFragment(new URL(String((await post(b.url, consultInvitationsPath(callId), { invitee: { kind: 'patient' } })).link)).hash)!;

    const host = await SignalingPeer.open(a.url, token);
    peers.push(host);
    const hostWelcome = await joinAs(host, callId, signedCallKey(callId, callPublicKey(), device.privateKey));
    assert.equal(hostWelcome.type, 'welcome', JSON.stringify(hostWelcome));
    const guest = await SignalingPeer.open(b.url);
    peers.push(guest);
    const guestWelcome = await joinAs(guest, link.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, link.token);
    assert.equal(guestWelcome.type, 'welcome', JSON.stringify(guestWelcome));
    const hostId = String(hostWelcome.participantId);
    const guestId = String(guestWelcome.participantId);
    assert.deepEqual((guestWelcome.roster as Array<{ participantId: string }>).map((p) => p.participantId).sort(), [hostId, guestId].sort(), 'B\'s welcome lists the host who joined at A');

    // The guest's join (stored by B) reaches the host at A.
    const joined = await host.next((m) => m.type === 'joined' && (m.participant as Record<string, unknown>).participantId === guestId, 'joined at A');
    assert.equal(joined.seq, guestWelcome.seq);

    const sealed = (to: string, epoch: number) => ({ type: 'key', to, epoch, enc: Buffer.alloc(32, epoch).toString('base64url'), ciphertext: Buffer.alloc(48, epoch).toString('base64url') });
    for (let epoch = 1; epoch <= 5; epoch++) host.send(sealed(guestId, epoch));
    for (let epoch = 11; epoch <= 15; epoch++) guest.send(sealed(hostId, epoch));
    await guest.next((m) => m.type === 'key' && m.epoch === 5, 'fifth key at B');
    await host.next((m) => m.type === 'key' && m.epoch === 15, 'fifth key at A');
    assert.deepEqual(guest.messages.filter((m) => m.type === 'key').map((m) => m.epoch), [1, 2, 3, 4, 5], 'B got A\'s keys in order');
    assert.deepEqual(host.messages.filter((m) => m.type === 'key').map((m) => m.epoch), [11, 12, 13, 14, 15], 'A got B\'s keys in order');

    // The same link at the other instance: refused.
    const again = await SignalingPeer.open(a.url);
    peers.push(again);
    await joinAs(again, link.callId, { publicKey: Buffer.from(callPublicKey()).toString('base64url') }, link.token);
    assert.equal((await again.refused('link reused at A')).error.code, 'NOT_ALLOWED');

    // The guest leaves at B; A hears it.
    guest.send({ type: 'leave' });
    await guest.closedPromise;
    const left = await host.next((m) => m.type === 'left' && m.participantId === guestId, 'left at A');

    // Both sides saw the events they share in one order: the seqs at A rise, and B's seqs are a subsequence of the call's.
    const seqsAt = (p: SignalingPeer) => p.messages.filter((m) => typeof m.seq === 'number').map((m) => Number(m.seq));
    const atA = seqsAt(host);
    const atB = seqsAt(guest);
    assert.deepEqual(atA, [...atA].sort((x, y) => x - y));
    assert.deepEqual(atB, [...atB].sort((x, y) => x - y));
    assert.ok(Number(left.seq) > Math.max(...atB), 'the leave comes after everything B was sent');
    const stored = await db.selectFrom('consult_events').select('seq').where('call_id', '=', callId).orderBy('seq').execute();
    assert.deepEqual(stored.map((r) => Number(r.seq)), stored.map((_, i) => i + 1), 'one gap-free sequence across both instances');
    for (const p of peers) assert.deepEqual(p.offSchema, [], 'every message matches serverMessageSchema');
    assert.ok(!a.output().includes(link.token) && !b.output().includes(link.token), 'no instance logged the token');
  });
});
