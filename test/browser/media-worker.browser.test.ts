/**
 * The consultation media worker in real Chromium: RTCPeerConnections on
 * loopback in one page (no media server needed), the fake camera and
 * microphone, every frame through RTCRtpScriptTransform into each
 * participant's own dedicated worker (the real renderer/consult-worker code,
 * bundled by esbuild as an ES module worker). Keys travel only as the
 * protocol carries them (public keys in rosters, HPKE-sealed keys).
 * - Bob, who holds Alice's key, decodes her video and audio (getStats).
 * - Carol, whose copy of Alice's key is withheld, decodes nothing and her
 *   worker counts the frames as dropped for want of a key.
 * - Dave's frames are tampered after encryption (test worker): Bob decodes
 *   none of them and counts them as failed authentication.
 * - Erin leaves: the others move to a new key epoch that is not sealed to
 *   her; her connection still receives Alice's frames but decodes nothing
 *   new, while Bob goes on decoding.
 * - Junk messages to a worker are ignored and counted; it keeps working.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS, ROOT } from './harness';
import type { MediaWorkerStats } from '../../shared/consult/media-worker-protocol';
import type { ReceiveStats } from './media-worker-page';

const CALL = 'c0ffee00-1234-4abc-8def-0123456789ab';
const ALICE = 'alice-participant';
const BOB = 'bob-participant';
const CAROL = 'carol-participant';
const DAVE = 'dave-participant';
const ERIN = 'erin-participant';

function bundle(entry: string): string {
  return buildSync({ entryPoints: [join(ROOT, entry)], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'chrome120' }).outputFiles[0]!.text;
}

let server: Server;
let origin: string;
let browser: Browser;
let page: Page;

before(async () => {
  const files: Record<string, string> = {
    '/': '<!doctype html><html><head><meta charset="utf-8"><title>media worker</title><script type="module" src="/page.js"></script></head><body></body></html>',
    '/page.js': bundle('test/browser/media-worker-page.ts'),
    '/media-worker.js': bundle('renderer/consult-worker/media-worker.ts'),
    '/tampering-media-worker.js': bundle('test/browser/tampering-media-worker.ts'),
  };
  server = createServer((req, res) => {
    const body = files[(req.url ?? '/').split('?')[0]!];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html' : 'text/javascript', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://localhost:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      ...CHROMIUM_FLAGS,
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
    ],
  });
  page = await browser.newPage();
  await page.goto(origin);
  await page.waitForFunction(() => '__mw' in globalThis);
});

after(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.close(() => r()));
});

type Mw = {
  addParticipant(id: string, index: number, url: string, callId: string): Promise<string>;
  withhold(from: string, to: string): void;
  shareRoster(): Promise<void>;
  connectWithCamera(from: string, to: string): Promise<void>;
  receiveStats(from: string, to: string): Promise<ReceiveStats>;
  workerStats(id: string): Promise<MediaWorkerStats>;
  send(id: string, message: unknown): void;
};

async function receive(from: string, to: string): Promise<ReceiveStats> {
  return page.evaluate(([f, t]) => (globalThis as unknown as { __mw: Mw }).__mw.receiveStats(f!, t!), [from, to]);
}
async function workerStats(id: string): Promise<MediaWorkerStats> {
  return page.evaluate((i) => (globalThis as unknown as { __mw: Mw }).__mw.workerStats(i), id);
}

async function disconnect(from: string, to: string): Promise<void> {
  await page.evaluate(([f, t]) => (globalThis as unknown as { __mw: { disconnect(f: string, t: string): void } }).__mw.disconnect(f!, t!), [from, to]);
}

/** Polls a condition on real stats until it holds (the event is "frames arrived"; no fixed sleep). */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(value)}`);
    await page.waitForTimeout(250);
  }
}

test('each worker makes its own call key and installs the others\' sealed keys (the relay withholds Alice\'s for Carol)', async () => {
  const publicKeys = await page.evaluate(
    async ([call, alice, bob, carol, dave, erin]) => {
      const api = (globalThis as unknown as { __mw: Mw }).__mw;
      const keys = [
        await api.addParticipant(alice!, 0, '/media-worker.js', call!),
        await api.addParticipant(bob!, 1, '/media-worker.js', call!),
        await api.addParticipant(carol!, 2, '/media-worker.js', call!),
        await api.addParticipant(dave!, 3, '/tampering-media-worker.js', call!),
        await api.addParticipant(erin!, 4, '/media-worker.js', call!),
      ];
      // The relay withholds Alice's sealed key for Carol.
      api.withhold(alice!, carol!);
      await api.shareRoster();
      return keys;
    },
    [CALL, ALICE, BOB, CAROL, DAVE, ERIN],
  );
  assert.equal(new Set(publicKeys).size, 5);
  for (const k of publicKeys) assert.match(k, /^[A-Za-z0-9_-]{43}$/, 'a raw 32-byte X25519 public key');
  for (const id of [ALICE, BOB, CAROL, DAVE, ERIN]) assert.equal((await workerStats(id)).epoch, 0);
});

test('Bob, holding Alice\'s key, decodes her video and audio; every frame went through SFrame', async () => {
  await page.evaluate(async ([a, b]) => {
    const api = (globalThis as unknown as { __mw: { connectWithCamera(f: string, t: string): Promise<void> } }).__mw;
    await api.connectWithCamera(a!, b!);
  }, [ALICE, BOB]);
  const stats = await until(() => receive(ALICE, BOB), (s) => s.videoFramesDecoded > 10 && s.audioSamplesDecoded > 0, 'Bob decodes Alice');
  assert.ok(stats.videoFramesDecoded > 10);
  assert.ok(stats.audioSamplesDecoded > 0);
  const bob = await workerStats(BOB);
  const fromAlice = bob.perSender.find((s) => s.participantId === ALICE)!;
  assert.ok(fromAlice.decryptedFrames > 10, 'decrypted by Bob\'s worker');
  // No frame of Alice's failed authentication at Bob. (Per sender, droppedAuth also counts replays: on a loaded machine a
  // retransmitted frame may reach the transform twice, and dropping the second copy is right; the worker-wide counters
  // keep the two apart.)
  assert.equal(bob.droppedAuth, 0, 'no frame failed authentication');
  assert.equal(bob.droppedMalformed, 0);
  const alice = await workerStats(ALICE);
  assert.ok(alice.sentFrames >= fromAlice.decryptedFrames, 'every frame Bob decoded, Alice\'s worker encrypted');
  assert.equal(alice.unsentNoKey, 0);
});

test('Carol, without Alice\'s key, decodes nothing and counts the frames as having no key', async () => {
  await page.evaluate(async ([a, c]) => {
    const api = (globalThis as unknown as { __mw: { connectWithCamera(f: string, t: string): Promise<void> } }).__mw;
    await api.connectWithCamera(a!, c!);
  }, [ALICE, CAROL]);
  const carol = await until(() => workerStats(CAROL), (s) => (s.perSender.find((p) => p.participantId === ALICE)?.droppedNoKey ?? 0) > 50, 'Carol receives Alice\'s frames');
  const fromAlice = carol.perSender.find((p) => p.participantId === ALICE)!;
  assert.equal(fromAlice.decryptedFrames, 0);
  assert.equal(carol.decryptedFrames, 0);
  const media = await receive(ALICE, CAROL);
  assert.ok(media.audioPacketsReceived > 0, 'packets did arrive');
  assert.equal(media.videoFramesDecoded, 0, 'no video decoded without the key');
  assert.equal(media.audioSamplesDecoded, 0, 'no audio decoded without the key');
  await disconnect(ALICE, CAROL);
});

test('Dave\'s tampered frames are dropped at Bob and counted as failed authentication', async () => {
  await page.evaluate(async ([d, b]) => {
    const api = (globalThis as unknown as { __mw: { connectWithCamera(f: string, t: string): Promise<void> } }).__mw;
    await api.connectWithCamera(d!, b!);
  }, [DAVE, BOB]);
  const bob = await until(() => workerStats(BOB), (s) => (s.perSender.find((p) => p.participantId === DAVE)?.droppedAuth ?? 0) > 50, 'Bob receives Dave\'s frames');
  const fromDave = bob.perSender.find((p) => p.participantId === DAVE)!;
  assert.equal(fromDave.decryptedFrames, 0, 'no tampered frame passes');
  assert.equal(fromDave.droppedNoKey, 0, 'Bob holds Dave\'s key: these failed authentication');
  const media = await receive(DAVE, BOB);
  assert.ok(media.audioPacketsReceived > 0, 'packets did arrive');
  assert.equal(media.videoFramesDecoded, 0);
  assert.equal(media.audioSamplesDecoded, 0);
  // Alice's frames to Bob still decode alongside.
  const before = (await receive(ALICE, BOB)).videoFramesDecoded;
  await until(() => receive(ALICE, BOB), (s) => s.videoFramesDecoded > before, 'Alice still decodes at Bob');
  await disconnect(DAVE, BOB);
});

test('after Erin leaves, the key epoch changes and Erin, still receiving Alice\'s frames, decodes nothing new', async () => {
  await page.evaluate(async ([a, e]) => {
    const api = (globalThis as unknown as { __mw: { connectWithCamera(f: string, t: string): Promise<void> } }).__mw;
    await api.connectWithCamera(a!, e!);
  }, [ALICE, ERIN]);
  await until(() => receive(ALICE, ERIN), (s) => s.videoFramesDecoded > 10 && s.audioSamplesDecoded > 0, 'Erin decodes Alice while in the call');

  await page.evaluate((e) => (globalThis as unknown as { __mw: { leave(id: string): Promise<void> } }).__mw.leave(e), ERIN);
  assert.equal((await workerStats(ALICE)).epoch, 1, 'Alice moved to a new epoch');
  const atLeave = await workerStats(ERIN);
  const erinFromAlice = atLeave.perSender.find((p) => p.participantId === ALICE)!;
  // Erin keeps receiving: her worker now counts Alice's new-epoch frames as having no key.
  const later = await until(
    () => workerStats(ERIN),
    (s) => (s.perSender.find((p) => p.participantId === ALICE)?.droppedNoKey ?? 0) > erinFromAlice.droppedNoKey + 50,
    'Erin still receives Alice\'s frames',
  );
  const laterFromAlice = later.perSender.find((p) => p.participantId === ALICE)!;
  // Only frames already in flight under the old key (grace period) may still have decrypted.
  assert.ok(laterFromAlice.decryptedFrames - erinFromAlice.decryptedFrames < 10, `Erin decrypted ${laterFromAlice.decryptedFrames - erinFromAlice.decryptedFrames} new frames`);
  const stalled = (await receive(ALICE, ERIN)).videoFramesDecoded;
  const bobBefore = (await receive(ALICE, BOB)).videoFramesDecoded;
  await until(() => receive(ALICE, BOB), (s) => s.videoFramesDecoded > bobBefore + 30, 'Bob goes on decoding Alice');
  assert.equal((await receive(ALICE, ERIN)).videoFramesDecoded, stalled, 'Erin decoded no new video frame');
});

test('junk messages to a worker are ignored and counted; the call goes on', async () => {
  const before = await workerStats(BOB);
  await page.evaluate((b) => {
    const api = (globalThis as unknown as { __mw: Mw }).__mw;
    for (const junk of [null, 'x', { type: 'key', from: 'x' }, { type: 'roster' }, { type: 'init', callId: 1 }, { type: 'evil', code: 'eval' }]) api.send(b, junk);
  }, BOB);
  const after = await until(() => workerStats(BOB), (s) => s.rejectedMessages >= before.rejectedMessages + 6, 'junk counted');
  assert.equal(after.rejectedMessages, before.rejectedMessages + 6);
  const decoded = (await receive(ALICE, BOB)).videoFramesDecoded;
  await until(() => receive(ALICE, BOB), (s) => s.videoFramesDecoded > decoded, 'Bob still decodes Alice');
});
