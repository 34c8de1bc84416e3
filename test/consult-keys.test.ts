/**
 * Consultation keys and the media worker's key handling, in Node with real
 * WebCrypto and @hpke/core:
 * - sealed sender keys open only for their recipient, from their sender, for
 *   their call/epoch; a tampered or moved sealed key is refused;
 * - the short authentication string is 6 digits, the same for any order of
 *   the same keys, and different when a relay swaps one key;
 * - call-key signatures verify against a real Ed25519 device key (SPKI)
 *   made with node:crypto, and fail for anything else;
 * - the worker session (renderer/consult-worker) relayed like a page would:
 *   keys exchanged, a new epoch when someone leaves that the leaver cannot
 *   open or decrypt, old keys kept only for the grace period (injected
 *   clock), counters never repeated, refused keys never installed, junk
 *   page messages ignored and counted, replayed and tampered frames dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { CallKeyError, generateCallKeyPair, openSenderKey, sealSenderKey } from '../shared/consult/call-keys';
import { shortAuthString } from '../shared/consult/short-auth-string';
import { callKeySignedBytes, verifyCallKeySignature } from '../shared/consult/call-key-signature';
import { fromBase64url, toBase64url, Base64urlError } from '../shared/consult/base64url';
import { deriveSFrameKey, parseSFrameHeader, sframeDecrypt, sframeEncrypt } from '../shared/sframe/index';
import { mediaKid } from '../shared/consult/media-kid';
import type { WorkerToPage } from '../shared/consult/media-worker-protocol';
import { MediaWorkerSession } from '../renderer/consult-worker/media-worker-session';
import { KEY_FRAME_COUNTERS, KeyRing, MAX_COUNTER_ADVANCE, OTHER_FRAME_COUNTERS } from '../renderer/consult-worker/key-ring';

const CALL = '6f1c1f0e-8a4e-4d7c-9a59-3f1b2c4d5e6f';
const OTHER_CALL = '0b7f3e2a-1c9d-4e8f-a6b5-c4d3e2f1a0b9';
/** The code over a bare key set (one fixed round, equal nonces): the key-binding properties; the round protocol is in consult-sas.test.ts. */
const sasOf = (callId: string, keys: readonly Uint8Array[]) =>
  shortAuthString({ callId, round: 1, participants: keys.map((publicKey) => ({ participantId: 'participant-x', index: 0, role: 'guest', displayName: 'Guest', publicKey })), nonces: keys.map(() => new Uint8Array(32)) });
const A = 'participant-aaaa';
const B = 'participant-bbbb';
const C = 'participant-cccc';

async function refusedOpen(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof CallKeyError && error.code === 'OPEN_FAILED');
}

async function sealedFixture() {
  const sender = await generateCallKeyPair();
  const recipient = await generateCallKeyPair();
  const baseKey = crypto.getRandomValues(new Uint8Array(16));
  const sealed = await sealSenderKey({ callId: CALL, from: A, to: B, epoch: 3, sender, recipientPublicKey: recipient.publicKey, baseKey });
  const open = (over: Partial<Parameters<typeof openSenderKey>[0]> = {}) =>
    openSenderKey({ callId: CALL, from: A, to: B, epoch: 3, recipient, senderPublicKey: sender.publicKey, enc: sealed.enc, ciphertext: sealed.ciphertext, ...over });
  return { sender, recipient, baseKey, sealed, open };
}

test('a sealed sender key opens for its recipient, from its sender, to the same bytes', async () => {
  const { baseKey, sealed, open } = await sealedFixture();
  assert.equal(sealed.enc.length, 32);
  assert.ok(!Buffer.from(sealed.ciphertext).includes(Buffer.from(baseKey)), 'the ciphertext does not carry the key in the clear');
  assert.deepEqual(await open(), baseKey);
});

test('the call private key cannot be exported', async () => {
  const pair = await generateCallKeyPair();
  assert.equal(pair.publicKey.length, 32);
  assert.equal(pair.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('pkcs8', pair.privateKey));
});

test('a sealed key is refused by anyone but its recipient (a participant holding another key)', async () => {
  const { open } = await sealedFixture();
  const intruder = await generateCallKeyPair();
  await refusedOpen(open({ recipient: intruder }));
});

test('a sealed key is refused for another epoch, another call, or swapped from/to', async () => {
  const { open } = await sealedFixture();
  await refusedOpen(open({ epoch: 4 }));
  await refusedOpen(open({ callId: OTHER_CALL }));
  await refusedOpen(open({ from: B, to: A }));
  await refusedOpen(open({ to: C }));
});

test('a key sealed by someone else in the sender\'s name is refused (HPKE auth mode)', async () => {
  const { recipient, baseKey, sender } = await sealedFixture();
  const forger = await generateCallKeyPair();
  const forged = await sealSenderKey({ callId: CALL, from: A, to: B, epoch: 3, sender: forger, recipientPublicKey: recipient.publicKey, baseKey });
  await refusedOpen(openSenderKey({ callId: CALL, from: A, to: B, epoch: 3, recipient, senderPublicKey: sender.publicKey, ...forged }));
});

test('a tampered enc or ciphertext is refused, bit by bit', async () => {
  const { sealed, open } = await sealedFixture();
  for (const field of ['enc', 'ciphertext'] as const) {
    for (const at of [0, sealed[field].length >> 1, sealed[field].length - 1]) {
      const bytes = sealed[field].slice();
      bytes[at]! ^= 0x01;
      await refusedOpen(open({ [field]: bytes }));
    }
  }
  await refusedOpen(open({ ciphertext: sealed.ciphertext.subarray(0, 31) }));
  await refusedOpen(open({ enc: new Uint8Array(32) }));
});

test('the short authentication string is 6 digits and independent of key order', async () => {
  const keys = await Promise.all([generateCallKeyPair(), generateCallKeyPair(), generateCallKeyPair()]);
  const raw = keys.map((k) => k.publicKey);
  const code = await sasOf(CALL, raw);
  assert.match(code, /^\d{6}$/);
  assert.equal(await sasOf(CALL, [raw[2]!, raw[0]!, raw[1]!]), code);
  assert.equal(await sasOf(CALL, [raw[1]!, raw[2]!, raw[0]!]), code);
  assert.notEqual(await sasOf(OTHER_CALL, raw), code, 'bound to the call id');
});

test('a relay that swaps one public key yields a different code on each side', async () => {
  const [a, b, mitmForA, mitmForB] = await Promise.all([generateCallKeyPair(), generateCallKeyPair(), generateCallKeyPair(), generateCallKeyPair()]);
  // A sees its own key and the relay's key posing as B; B sees the relay's key posing as A and its own.
  const codeA = await sasOf(CALL, [a.publicKey, mitmForA.publicKey]);
  const codeB = await sasOf(CALL, [mitmForB.publicKey, b.publicKey]);
  const honest = await sasOf(CALL, [a.publicKey, b.publicKey]);
  assert.notEqual(codeA, codeB);
  assert.notEqual(codeA, honest);
  assert.notEqual(codeB, honest);
  // Even one swapped byte of one key changes it.
  const tweaked = b.publicKey.slice();
  tweaked[31]! ^= 0x80;
  assert.notEqual(await sasOf(CALL, [a.publicKey, tweaked]), honest);
});

test('the code digits are spread evenly (no visible bias over many calls)', async () => {
  const key = (await generateCallKeyPair()).publicKey;
  const firstDigits = new Array<number>(10).fill(0);
  for (let i = 0; i < 2000; i++) firstDigits[Number((await sasOf(`call-${i}`, [key]))[0])]! += 1;
  for (const n of firstDigits) assert.ok(n > 120 && n < 290, `first digit counts ${firstDigits.join(',')}`);
});

test('a call-key signature by the enrolled device key verifies; anything else does not', async () => {
  const device = generateKeyPairSync('ed25519');
  const spki = new Uint8Array(device.publicKey.export({ format: 'der', type: 'spki' }));
  const callKey = (await generateCallKeyPair()).publicKey;
  const signature = new Uint8Array(nodeSign(null, callKeySignedBytes(CALL, callKey), device.privateKey));
  assert.equal(await verifyCallKeySignature(spki, CALL, callKey, signature), true);

  const otherDevice = generateKeyPairSync('ed25519');
  const otherSpki = new Uint8Array(otherDevice.publicKey.export({ format: 'der', type: 'spki' }));
  assert.equal(await verifyCallKeySignature(otherSpki, CALL, callKey, signature), false, 'another device');
  assert.equal(await verifyCallKeySignature(spki, OTHER_CALL, callKey, signature), false, 'replayed into another call');
  const swapped = (await generateCallKeyPair()).publicKey;
  assert.equal(await verifyCallKeySignature(spki, CALL, swapped, signature), false, 'a swapped call key');
  const flipped = signature.slice();
  flipped[5]! ^= 1;
  assert.equal(await verifyCallKeySignature(spki, CALL, callKey, flipped), false, 'a tampered signature');
  assert.equal(await verifyCallKeySignature(new Uint8Array([1, 2, 3]), CALL, callKey, signature), false, 'junk device key');
});

test('the signed bytes are unambiguous: call id and key cannot trade bytes', () => {
  const key = new Uint8Array(32).fill(7);
  assert.notDeepEqual(callKeySignedBytes('abc', key), callKeySignedBytes('ab', Uint8Array.of(0x63, ...key.subarray(1))));
});

test('base64url round-trips and refuses junk', () => {
  for (let n = 0; n < 40; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    const text = toBase64url(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64url'));
    assert.deepEqual(fromBase64url(text), bytes);
  }
  for (const junk of ['a', 'ab=c', 'ab+/', 'abc=', 'a b', 'AB', 'é']) assert.throws(() => fromBase64url(junk), Base64urlError, junk);
});

// ---- the media worker session, relayed as the page would ----

interface Peer {
  id: string;
  index: number;
  session: MediaWorkerSession;
  out: WorkerToPage[];
  publicKey: string;
}

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function peer(id: string, index: number, now: () => number, graceMs = 500): Promise<Peer> {
  const out: WorkerToPage[] = [];
  const session = new MediaWorkerSession({ post: (m) => out.push(m), now, graceMs });
  await session.receive({ type: 'init', callId: CALL });
  const ready = out.find((m) => m.type === 'ready');
  assert.ok(ready && ready.type === 'ready');
  return { id, index, session, out, publicKey: ready.publicKey };
}

function take<T extends WorkerToPage['type']>(p: Peer, type: T): Extract<WorkerToPage, { type: T }>[] {
  const found = p.out.filter((m) => m.type === type) as Extract<WorkerToPage, { type: T }>[];
  p.out.splice(0, p.out.length, ...p.out.filter((m) => m.type !== type));
  return found;
}

/** Gives everyone the roster of `members`, then relays each new sealed key to its recipient, as signaling would. */
async function rosterAndRelay(members: Peer[], everyone: Peer[]): Promise<void> {
  const participants = members.map((m) => ({ participantId: m.id, index: m.index, publicKey: m.publicKey }));
  for (const m of members) await m.session.receive({ type: 'roster', selfId: m.id, selfIndex: m.index, participants });
  for (const m of members) {
    for (const sealed of take(m, 'sealed-keys')) {
      for (const key of sealed.keys) {
        const to = everyone.find((p) => p.id === key.to)!;
        await to.session.receive({ type: 'key', from: m.id, epoch: sealed.epoch, enc: key.enc, ciphertext: key.ciphertext });
      }
    }
  }
}

const picture = (n: number) => new TextEncoder().encode(`frame ${n} of the patient's picture`);

test('session: keys are exchanged and frames decrypt at every other participant', async () => {
  const c = clock();
  const [a, b, cc] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now), peer(C, 2, c.now)]);
  await rosterAndRelay([a, b, cc], [a, b, cc]);
  assert.equal(take(b, 'key-installed').length, 2);
  assert.equal(take(cc, 'key-installed').length, 2);
  const frame = await a.session.encryptFrame(picture(1));
  assert.ok(frame);
  assert.equal(parseSFrameHeader(frame).kid, mediaKid(0, 0));
  assert.deepEqual(await b.session.decryptFrame(frame, A), picture(1));
  assert.deepEqual(await cc.session.decryptFrame(frame, A), picture(1));
  assert.equal(b.session.stats().perSender.find((s) => s.participantId === A)?.decryptedFrames, 1);
});

test('session: the counter never repeats under a key, across audio and video transforms alike', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  await rosterAndRelay([a, b], [a, b]);
  const frames = await Promise.all(Array.from({ length: 300 }, (_, i) => a.session.encryptFrame(picture(i), i % 7 === 0 ? 'key-frame' : 'other')));
  const counters = frames.map((f) => parseSFrameHeader(f!).ctr);
  assert.equal(new Set(counters).size, 300);
  const keyCounters = counters.filter((_, i) => i % 7 === 0);
  const otherCounters = counters.filter((_, i) => i % 7 !== 0);
  assert.deepEqual(keyCounters, keyCounters.map((_, i) => KEY_FRAME_COUNTERS.first + BigInt(i)), 'key frames count up in their own range');
  assert.deepEqual(otherCounters, otherCounters.map((_, i) => OTHER_FRAME_COUNTERS.first + BigInt(i)), 'other frames count up in theirs');
  for (const f of frames) assert.deepEqual(await b.session.decryptFrame(f!, A), picture(counters.indexOf(parseSFrameHeader(f!).ctr)));
});

test('key ring: the counter ranges are disjoint and a range that runs out sends nothing', async () => {
  assert.ok(KEY_FRAME_COUNTERS.last < OTHER_FRAME_COUNTERS.first);
  const c = clock();
  const ring = new KeyRing({ now: c.now, graceMs: 500 });
  assert.equal(ring.nextSend('other'), undefined, 'no own key before the first epoch');
  await ring.startOwnEpoch(0);
  assert.equal(ring.nextSend('key-frame')?.ctr, KEY_FRAME_COUNTERS.first);
  assert.equal(ring.nextSend('other')?.ctr, OTHER_FRAME_COUNTERS.first);
  await ring.startOwnEpoch(0);
  assert.equal(ring.ownEpoch, 1);
  assert.equal(ring.nextSend('other')?.ctr, OTHER_FRAME_COUNTERS.first, 'a new key starts its counters afresh');
});

test('a receiver\'s VP8 depacketizer reads key frames as key frames and other frames as delta frames (lowest bit of the first byte)', async () => {
  const c = clock();
  const a = await peer(A, 5, c.now);
  const b = await peer(B, 1, c.now);
  for (let epoch = 0; epoch < 3; epoch++) {
    await a.session.receive({ type: 'roster', selfId: A, selfIndex: 5, participants: [{ participantId: B, index: 1 + epoch, publicKey: b.publicKey }] });
    for (let i = 0; i < 20; i++) {
      const key = (await a.session.encryptFrame(picture(i), 'key-frame'))!;
      const other = (await a.session.encryptFrame(picture(i), 'other'))!;
      assert.equal(key[0]! & 1, 0, `key frame, epoch ${epoch}`);
      assert.equal(other[0]! & 1, 1, `delta frame, epoch ${epoch}`);
      assert.ok(key.length >= 10, 'long enough for a VP8 key frame header');
    }
  }
});

test('session: before any roster the worker sends nothing (no key, no plain frame)', async () => {
  const c = clock();
  const a = await peer(A, 0, c.now);
  assert.equal(await a.session.encryptFrame(picture(1)), undefined);
  assert.equal(a.session.stats().unsentNoKey, 1);
  assert.equal(a.session.stats().sentFrames, 0);
});

test('session: after a participant leaves, the new epoch is sealed only to those who remain and the leaver decrypts nothing new', async () => {
  const c = clock();
  const [a, b, cc] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now), peer(C, 2, c.now)]);
  await rosterAndRelay([a, b, cc], [a, b, cc]);
  const before = await a.session.encryptFrame(picture(1));
  assert.ok(await cc.session.decryptFrame(before!, A), 'C decrypts while in the call');

  // C leaves: A and B get the roster without C; C's worker (still receiving from the media server) keeps its old keys.
  const participants = [a, b].map((m) => ({ participantId: m.id, index: m.index, publicKey: m.publicKey }));
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants });
  const [sealed] = take(a, 'sealed-keys');
  assert.equal(sealed!.epoch, 1);
  assert.deepEqual(sealed!.keys.map((k) => k.to), [B], 'sealed to B only');
  // The relay hands B's copy to C: C cannot open it.
  const forB = sealed!.keys[0]!;
  await cc.session.receive({ type: 'key', from: A, epoch: 1, enc: forB.enc, ciphertext: forB.ciphertext });
  assert.deepEqual(take(cc, 'key-refused'), [{ type: 'key-refused', from: A, reason: 'open-failed' }]);
  await b.session.receive({ type: 'key', from: A, epoch: 1, enc: forB.enc, ciphertext: forB.ciphertext });
  assert.deepEqual(take(b, 'key-installed').at(-1), { type: 'key-installed', from: A, epoch: 1 });

  const after = await a.session.encryptFrame(picture(2));
  assert.equal(parseSFrameHeader(after!).kid, mediaKid(0, 1));
  assert.deepEqual(await b.session.decryptFrame(after!, A), picture(2));
  assert.equal(await cc.session.decryptFrame(after!, A), undefined, 'the leaver decrypts nothing new');
  assert.equal(cc.session.stats().droppedNoKey, 1);
});

test('session: the previous epoch decrypts for the grace period only (frames in flight), then its key is gone', async () => {
  const c = clock();
  const [a, b, cc] = await Promise.all([peer(A, 0, c.now, 500), peer(B, 1, c.now, 500), peer(C, 2, c.now, 500)]);
  await rosterAndRelay([a, b, cc], [a, b, cc]);
  const inFlight = await a.session.encryptFrame(picture(1));
  const late = await a.session.encryptFrame(picture(2));
  await rosterAndRelay([a, b], [a, b, cc]);
  c.advance(400);
  assert.deepEqual(await b.session.decryptFrame(inFlight!, A), picture(1), 'within the grace period');
  c.advance(200);
  assert.equal(await b.session.decryptFrame(late!, A), undefined, 'after the grace period the old key is dropped');
  assert.equal(b.session.stats().droppedNoKey, 1);
});

test('session: an identical roster starts no new epoch; a changed public key does', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  await rosterAndRelay([a, b], [a, b]);
  const participants = [a, b].map((m) => ({ participantId: m.id, index: m.index, publicKey: m.publicKey }));
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants });
  assert.equal(take(a, 'sealed-keys').length, 0);
  assert.equal(a.session.stats().epoch, 0);
  const b2 = await peer(B, 1, c.now);
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants: [participants[0]!, { participantId: B, index: 1, publicKey: b2.publicKey }] });
  assert.equal(take(a, 'sealed-keys')[0]?.epoch, 1);
});

test('key ring: a second, different key for the same sender and epoch is refused and the first stays', async () => {
  const c = clock();
  const ring = new KeyRing({ now: c.now, graceMs: 500 });
  const first = new Uint8Array(16).fill(1);
  assert.equal(await ring.install(A, 0, 0, first), 'installed');
  assert.equal(await ring.install(A, 0, 0, first), 'already-installed');
  assert.equal(await ring.install(A, 0, 0, new Uint8Array(16).fill(2)), 'conflicting-key');
  assert.equal(await ring.install(A, 0, 0, new Uint8Array(32)), 'bad-key');
  const frame = await sframeEncrypt(await deriveSFrameKey(4, mediaKid(0, 0), first), 7n, new Uint8Array(0), picture(1));
  const opened = await sframeDecrypt((kid) => ring.keyFor(kid), new Uint8Array(0), frame);
  assert.deepEqual(opened.plaintext, picture(1));
});

test('session: refused keys are reported and never installed (unknown sender, forged, stale)', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  await rosterAndRelay([a, b], [a, b]);
  take(b, 'key-installed');

  // From someone not in the roster.
  await b.session.receive({ type: 'key', from: C, epoch: 0, enc: toBase64url(new Uint8Array(32)), ciphertext: toBase64url(new Uint8Array(32)) });
  assert.deepEqual(take(b, 'key-refused'), [{ type: 'key-refused', from: C, reason: 'unknown-sender' }]);

  // A relay sealing its own key in A's name (it knows B's public key, not A's private key).
  const relay = await generateCallKeyPair();
  const injected = await sealSenderKey({ callId: CALL, from: A, to: B, epoch: 5, sender: relay, recipientPublicKey: fromBase64url(b.publicKey), baseKey: new Uint8Array(16).fill(9) });
  await b.session.receive({ type: 'key', from: A, epoch: 5, enc: toBase64url(injected.enc), ciphertext: toBase64url(injected.ciphertext) });
  assert.deepEqual(take(b, 'key-refused'), [{ type: 'key-refused', from: A, reason: 'open-failed' }]);
  // A frame under the injected key's KID finds no key at B.
  assert.equal(take(b, 'key-installed').length, 0);
  const injectedFrame = await sframeEncrypt(await deriveSFrameKey(4, mediaKid(0, 5), new Uint8Array(16).fill(9)), 0n, new Uint8Array(0), picture(1));
  assert.equal(await b.session.decryptFrame(injectedFrame, A), undefined);
  assert.equal(b.session.stats().droppedNoKey, 1);

  // A replay of A's epoch-0 key after A moved on is stale; a replay of the current one changes nothing.
  const participants = [a, b].map((m) => ({ participantId: m.id, index: m.index, publicKey: m.publicKey }));
  const third = await peer(C, 2, c.now);
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants: [...participants, { participantId: C, index: 2, publicKey: third.publicKey }] });
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants });
  const [e1, e2] = take(a, 'sealed-keys');
  const toB = (s: typeof e1) => {
    const { enc, ciphertext } = s!.keys.find((k) => k.to === B)!;
    return { enc, ciphertext };
  };
  await b.session.receive({ type: 'key', from: A, epoch: 2, ...toB(e2) });
  await b.session.receive({ type: 'key', from: A, epoch: 1, ...toB(e1) });
  assert.deepEqual(take(b, 'key-refused'), [{ type: 'key-refused', from: A, reason: 'stale-epoch' }]);
  await b.session.receive({ type: 'key', from: A, epoch: 2, ...toB(e2) });
  assert.deepEqual(take(b, 'key-installed'), [{ type: 'key-installed', from: A, epoch: 2 }, { type: 'key-installed', from: A, epoch: 2 }]);
  assert.equal(take(b, 'key-refused').length, 0);
});

test('session: a tampered frame is dropped and counted as failed authentication; a replayed frame is dropped too', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  await rosterAndRelay([a, b], [a, b]);
  const frame = (await a.session.encryptFrame(picture(1)))!;
  const tampered = frame.slice();
  tampered[tampered.length - 20]! ^= 0x04;
  assert.equal(await b.session.decryptFrame(tampered, A), undefined);
  assert.equal(b.session.stats().droppedAuth, 1);
  assert.equal(b.session.stats().perSender.find((s) => s.participantId === A)?.droppedAuth, 1);
  assert.deepEqual(await b.session.decryptFrame(frame, A), picture(1));
  assert.equal(await b.session.decryptFrame(frame, A), undefined, 'the same frame twice is a replay');
  assert.equal(b.session.stats().droppedReplay, 1);
  assert.equal(await b.session.decryptFrame(new Uint8Array([0xff]), A), undefined);
  assert.equal(b.session.stats().droppedMalformed, 1);
});

test('session: a frame from one participant spliced into another participant\'s feed is dropped', async () => {
  const c = clock();
  const [a, b, cc] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now), peer(C, 2, c.now)]);
  await rosterAndRelay([a, b, cc], [a, b, cc]);
  const fromC = (await cc.session.encryptFrame(picture(1)))!;
  assert.equal(await b.session.decryptFrame(fromC, A), undefined, 'arrived on A\'s stream but sealed by C');
  assert.equal(b.session.stats().droppedAuth, 1);
});

test('session: junk page messages are ignored and counted; the worker keeps working', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  for (const junk of [null, 42, 'key', { type: 'key' }, { type: 'roster', selfId: A }, { type: 'init', callId: 'nope' }, { type: 'key', from: B, epoch: -1, enc: '', ciphertext: '' }, { type: 'key', from: B, epoch: 0, enc: '***', ciphertext: '' }, { type: 'stats', extra: 1 }]) {
    await a.session.receive(junk);
  }
  assert.equal(a.session.stats().rejectedMessages, 9);
  // A roster with two participants on one sender index is refused whole.
  await a.session.receive({ type: 'roster', selfId: A, selfIndex: 0, participants: [{ participantId: B, index: 0, publicKey: b.publicKey }] });
  assert.equal(take(a, 'sealed-keys').length, 0);
  assert.equal(a.session.stats().rejectedMessages, 10);
  await rosterAndRelay([a, b], [a, b]);
  const frame = await a.session.encryptFrame(picture(1));
  assert.deepEqual(await b.session.decryptFrame(frame!, A), picture(1));
});

test('session: no message to the page ever carries more than public keys and sealed keys', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  const seen: WorkerToPage[] = [...a.out];
  const post = a.out.push.bind(a.out);
  a.out.push = (...m: WorkerToPage[]) => {
    seen.push(...m);
    return post(...m);
  };
  await rosterAndRelay([a, b], [a, b]);
  for (const m of seen) {
    for (const value of Object.values(m)) {
      if (typeof value === 'string' && /^[A-Za-z0-9_-]{20,}$/.test(value)) assert.ok(m.type === 'ready', `${m.type} carries a raw key-like string`);
    }
  }
  assert.deepEqual(seen.map((m) => m.type).sort(), ['key-installed', 'ready', 'sealed-keys']);
  for (const m of seen) if (m.type === 'key-installed') assert.deepEqual(Object.keys(m).sort(), ['epoch', 'from', 'type']);
});

// ---- counters a member forges with a group key, and refused rosters (issue 11 review, F2 and F4) ----

/** A's current sender key as another member (here: a test key pair in the roster) legitimately holds it. */
async function membersCopyOfKey(a: Peer, b: Peer) {
  const member = { id: 'participant-mmmm', keys: await generateCallKeyPair() };
  const participants = [
    { participantId: a.id, index: a.index, publicKey: a.publicKey },
    { participantId: b.id, index: b.index, publicKey: b.publicKey },
    { participantId: member.id, index: 2, publicKey: toBase64url(member.keys.publicKey) },
  ];
  await a.session.receive({ type: 'roster', selfId: a.id, selfIndex: a.index, participants });
  await b.session.receive({ type: 'roster', selfId: b.id, selfIndex: b.index, participants });
  const [sealed] = take(a, 'sealed-keys');
  const toB = sealed!.keys.find((k) => k.to === b.id)!;
  await b.session.receive({ type: 'key', from: a.id, epoch: sealed!.epoch, enc: toB.enc, ciphertext: toB.ciphertext });
  assert.equal(take(b, 'key-installed').length, 1);
  const toMember = sealed!.keys.find((k) => k.to === member.id)!;
  const baseKey = await openSenderKey({ callId: CALL, from: a.id, to: member.id, epoch: sealed!.epoch, recipient: member.keys, senderPublicKey: fromBase64url(a.publicKey), enc: fromBase64url(toMember.enc), ciphertext: fromBase64url(toMember.ciphertext) });
  return deriveSFrameKey(4, mediaKid(a.index, sealed!.epoch), baseKey);
}

test('session: a member forging a frame with a far-ahead counter under A\'s key does not silence A (genuine frames still decrypt)', async () => {
  const c = clock();
  const [a, b] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now)]);
  const key = await membersCopyOfKey(a, b);
  for (let i = 0; i < 3; i++) assert.deepEqual(await b.session.decryptFrame((await a.session.encryptFrame(picture(i)))!, A), picture(i));
  const forged = [OTHER_FRAME_COUNTERS.last, OTHER_FRAME_COUNTERS.first + 100_000n, KEY_FRAME_COUNTERS.last];
  for (const ctr of forged) {
    const frame = await sframeEncrypt(key, ctr, new Uint8Array(0), picture(999));
    assert.equal(await b.session.decryptFrame(frame, A), undefined, `forged counter ${ctr} is refused`);
  }
  assert.equal(b.session.stats().droppedCounter, forged.length, 'refused counters are counted');
  let played = 0;
  for (let i = 0; i < 20; i++) {
    const frameClass = i % 5 === 0 ? 'key-frame' : 'other';
    if (await b.session.decryptFrame((await a.session.encryptFrame(picture(i), frameClass))!, A)) played += 1;
  }
  assert.equal(played, 20, 'every genuine frame of A after the forged ones plays');
});

test('key ring: counters outside the senders\' class ranges are refused; one accepted frame advances the window only boundedly', async () => {
  const c = clock();
  const ring = new KeyRing({ now: c.now, graceMs: 500 });
  assert.equal(await ring.install(A, 0, 0, new Uint8Array(16).fill(1)), 'installed');
  const kid = mediaKid(0, 0);
  for (const ctr of [0n, 1n, KEY_FRAME_COUNTERS.first - 1n, OTHER_FRAME_COUNTERS.last + 1n, 0xffff_ffff_ffffn]) {
    assert.equal(ring.acceptCounter(kid, ctr), 'out-of-range', `counter ${ctr}`);
  }
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first), 'fresh');
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first + MAX_COUNTER_ADVANCE + 1n), 'too-far-ahead');
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first + MAX_COUNTER_ADVANCE), 'fresh', 'a bounded jump (lost frames) is accepted');
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first + 1n), 'fresh', 'and frames just after the last genuine one still are');
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first + 1n), 'replayed');
  // The first frame under a key is bounded from the start of its range: a forged first frame cannot jump either.
  assert.equal(ring.acceptCounter(kid, KEY_FRAME_COUNTERS.first + MAX_COUNTER_ADVANCE + 1n), 'too-far-ahead');
  assert.equal(ring.acceptCounter(kid, KEY_FRAME_COUNTERS.first), 'fresh');
  // After a long silence (a stalled subscription) the sender is further ahead: the bound grows with time.
  c.advance(60_000);
  assert.equal(ring.acceptCounter(kid, OTHER_FRAME_COUNTERS.first + MAX_COUNTER_ADVANCE + 60n * 80n), 'fresh');
});

test('session: a refused roster answers `failed` and the worker stops sending under the old key until a valid roster', async () => {
  const c = clock();
  const [a, b, leaver] = await Promise.all([peer(A, 0, c.now), peer(B, 1, c.now), peer(C, 2, c.now)]);
  await rosterAndRelay([a, b, leaver], [a, b, leaver]);
  const entry = (p: Peer, index = p.index) => ({ participantId: p.id, index, publicKey: p.publicKey });
  const refused = [
    { type: 'roster', selfId: A, selfIndex: 0, participants: [entry(a), entry(b, 0)] },
    { type: 'roster', selfId: A, selfIndex: 0, participants: [entry(a), { ...entry(b), publicKey: toBase64url(new Uint8Array(31)) }] },
    { type: 'roster', selfId: A, selfIndex: 7, participants: [entry(b)] },
  ];
  for (const roster of refused) {
    await a.session.receive(roster);
    assert.deepEqual(take(a, 'failed').map((m) => m.code), ['ROSTER_REFUSED']);
    assert.equal(take(a, 'sealed-keys').length, 0);
    const frame = await a.session.encryptFrame(picture(1));
    assert.equal(frame, undefined, 'no frame is sent under the key the leaver holds');
  }
  assert.equal(a.session.stats().unsentStopped, refused.length);
  assert.equal(a.session.stats().sentFrames, 0);
  // A valid roster (even the one before the refusal) starts a new epoch and sending resumes under it.
  await rosterAndRelay([a, b], [a, b, leaver]);
  const after = (await a.session.encryptFrame(picture(2)))!;
  assert.equal(parseSFrameHeader(after).kid, mediaKid(0, 1));
  assert.deepEqual(await b.session.decryptFrame(after, A), picture(2));
  assert.equal(await leaver.session.decryptFrame(after, A), undefined);
});
