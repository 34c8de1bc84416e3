/**
 * The call engine (renderer/consult/call-engine.ts) in real Chromium with
 * the fake camera and microphone, the real media worker and the socket
 * transport, two pages joined through a loopback stand-in for signaling and
 * the media server (loopback-signaling.ts: A's publish offer becomes B's
 * subscription offer). Proves the page-side wiring: every frame goes through
 * the worker's transforms and both sides decrypt and decode video and audio;
 * both show the same code; "codes match" reaches the other side; a key
 * tampered with on the way is refused and shown as "cannot decrypt"; a
 * browser without RTCRtpScriptTransform fails closed before opening a
 * device or a socket. The same engine through the real backend, Janus and
 * coturn: call-engine-janus.browser.test.ts.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { attachLoopbackSignaling, type LoopbackSignaling } from './loopback-signaling';
import { serveCallEnginePage, type CallEngineServer } from './call-engine-server';
import { launchMediaChromium } from '../support/media-browser';
import { decodesVideoAndAudio, engineStats as stats, latest, openCallPage, startOnPage, untilState, untilStats } from './call-engine-driver';

let server: CallEngineServer;
let browser: Browser;
let relay: LoopbackSignaling;
const TOKEN = 'A'.repeat(43);

before(async () => {
  server = await serveCallEnginePage();
  browser = await launchMediaChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});
afterEach(() => {
  relay?.close();
  server.server.removeAllListeners('upgrade');
});

const openPage = () => openCallPage(browser, server.origin);
const start = (page: Page, callId: string) => startOnPage(page, callId, TOKEN);

async function twoPageCall(refuseSubscriptions = 0): Promise<{ a: Page; b: Page; callId: string }> {
  relay = attachLoopbackSignaling(server.server);
  relay.refuseSubscriptions = refuseSubscriptions;
  const callId = randomUUID();
  const a = await openPage();
  const b = await openPage();
  await start(a, callId);
  await untilState(a, "s.phase === 'in-call'");
  await start(b, callId);
  return { a, b, callId };
}

const decodesBoth = decodesVideoAndAudio;

test('two pages decrypt and decode each other\'s video and audio through the worker, and show the same code', async () => {
  const { a, b } = await twoPageCall();
  const [sa, sb] = await Promise.all([untilStats(a, decodesBoth), untilStats(b, decodesBoth)]);
  for (const s of [sa, sb]) {
    assert.ok(s.worker, 'the worker answers its counters');
    assert.ok(s.worker.sentFrames > 0, 'own frames went through the send transform');
    assert.ok(s.worker.decryptedFrames > 0, 'remote frames were decrypted by the worker');
    assert.equal(s.worker.droppedAuth, 0, 'no frame failed authentication');
  }
  const [stA, stB] = [await latest(a), await latest(b)];
  assert.ok(stA && stB);
  assert.match(stA.code ?? '', /^\d{6}$/);
  assert.equal(stA.code, stB.code, 'both sides show the same code');
  assert.equal(stA.encryption, 'e2ee-unverified');
  assert.equal(stB.encryption, 'e2ee-unverified');
  const remoteOfA = stA.participants.find((p) => !p.self)!;
  assert.deepEqual(remoteOfA.stream, ['audio', 'video']);
  assert.equal(remoteOfA.decrypting, true);
  // The remote picture actually plays.
  await a.waitForFunction(() => Array.from(document.querySelectorAll("video")).some((v) => v.videoWidth > 0 && v.currentTime > 0));
  await a.close();
  await b.close();
});

test('"codes match" on one side marks it verified and reaches the other side; the wire carries the code only in code-confirmed', async () => {
  const { a, b } = await twoPageCall();
  await untilState(b, "s.phase === 'in-call' && s.code !== null");
  await untilState(a, 's.code !== null');
  await a.evaluate(() => (window as unknown as { __call: { handle: { confirmCode(): Promise<void> } } }).__call.handle.confirmCode());
  const stA = await untilState(a, "s.encryption === 'e2ee-verified'");
  const stB = await untilState(b, 's.participants.some((p) => !p.self && p.codeConfirmed)');
  assert.equal(stB.encryption, 'e2ee-unverified', 'the other side has not confirmed yet');
  const sent = relay.received.filter((m) => m.type === 'code-confirmed');
  assert.deepEqual(sent, [{ type: 'code-confirmed', round: (sent[0] as { round: number }).round, code: stA.code }]);
  await a.close();
  await b.close();
});

/** A and B in a call through a relay that tampers with what it delivers (SAS tests, issue 11 review F1/F3). */
async function tamperedCall(tamper: typeof relay.tamper): Promise<{ a: Page; b: Page }> {
  relay = attachLoopbackSignaling(server.server);
  relay.tamper = tamper;
  const callId = randomUUID();
  const a = await openPage();
  const b = await openPage();
  await start(a, callId);
  await untilState(a, "s.phase === 'in-call'");
  await start(b, callId);
  return { a, b };
}

test('a relayed "codes match" naming another code is never shown as checked: the receiving page ends the call (CODE_DIFFERS)', async () => {
  // The relay tells B that A confirmed a code other than the one A confirmed.
  const { a, b } = await tamperedCall((to, message) => (message.type === 'code-confirmed' && to.index === 1 ? { ...message, code: message.code === '000000' ? '000001' : '000000' } : message));
  await untilState(b, "s.phase === 'in-call' && s.code !== null");
  await untilState(a, 's.code !== null');
  await a.evaluate(() => (window as unknown as { __call: { handle: { confirmCode(): Promise<void> } } }).__call.handle.confirmCode());
  await untilState(a, "s.encryption === 'e2ee-verified'");
  const stB = await untilState(b, "s.phase === 'failed'");
  assert.equal(stB.error?.code, 'CODE_DIFFERS');
  assert.notEqual(stB.encryption, 'e2ee-verified');
  const remote = stB.participants.find((p) => !p.self) as unknown as { codeConfirmed: boolean; confirmedCode: string | null };
  assert.equal(remote.codeConfirmed, false, 'never marked as confirmed');
  assert.ok(remote.confirmedCode !== null && remote.confirmedCode !== stB.code, 'the other code is kept to be shown as a warning');
  await a.close();
  await b.close();
});

test('a security-code nonce that does not match its commitment ends the call and no code is ever shown (CODE_CHECK_FAILED)', async () => {
  const { a, b } = await tamperedCall((to, message) => {
    if (message.type !== 'sas-reveal' || to.index !== 1) return message;
    const nonce = Buffer.from(message.nonce, 'base64url');
    nonce[0]! ^= 0x01;
    return { ...message, nonce: nonce.toString('base64url') };
  });
  const stB = await untilState(b, "s.phase === 'failed'");
  assert.equal(stB.error?.code, 'CODE_CHECK_FAILED');
  assert.equal(stB.code, null, 'no code from a round with a bad reveal');
  await a.close();
  await b.close();
});

test('a subscription refused at first (the media server not ready for a new feed) is asked again: media flows and no error is shown', async () => {
  const { a, b } = await twoPageCall(2);
  await Promise.all([untilStats(a, decodesBoth), untilStats(b, decodesBoth)]);
  assert.equal(relay.refuseSubscriptions, 0, 'both refusals were used');
  assert.ok(relay.received.filter((m) => m.type === 'subscribe').length >= 4, 'the refused subscriptions were asked again');
  for (const page of [a, b]) {
    const state = (await latest(page))!;
    assert.equal(state.phase, 'in-call');
    assert.equal(state.error, null);
  }
  await a.close();
  await b.close();
});

test('a sealed key tampered with on the way is refused: the receiver shows it cannot decrypt that participant and decodes no video', async () => {
  relay = attachLoopbackSignaling(server.server);
  let tampered = 0;
  // Flip one byte of every sealed key delivered to the second participant (index 1).
  relay.tamper = (to, message) => {
    if (message.type !== 'key' || to.index !== 1) return message;
    tampered += 1;
    const bytes = Buffer.from(message.ciphertext, 'base64url');
    bytes[0]! ^= 0x01;
    return { ...message, ciphertext: bytes.toString('base64url') };
  };
  const callId = randomUUID();
  const a = await openPage();
  const b = await openPage();
  await start(a, callId);
  await untilState(a, "s.phase === 'in-call'");
  await start(b, callId);
  const stB = await untilState(b, 's.participants.some((p) => !p.self && p.decrypting === false)');
  assert.ok(tampered > 0);
  assert.equal(stB.phase, 'in-call', 'the call goes on');
  // A still decrypts B (B's keys to A were not touched)...
  await untilStats(a, decodesBoth);
  // ...while B has received A's packets yet decrypted and decoded none of them.
  const sB = await untilStats(b, (s) => (s.inbound[0]?.videoPacketsReceived ?? 0) > 50);
  assert.equal(sB.inbound[0]!.framesDecoded, 0, 'no frame from A was decoded without its key');
  assert.equal(sB.worker!.decryptedFrames, 0);
  await a.close();
  await b.close();
});

test('mute and camera off disable the tracks but keep them in the encrypted pipeline: frames are still encrypted and the other side still decrypts', async () => {
  const { a, b } = await twoPageCall();
  await untilStats(b, (s) => (s.worker?.decryptedFrames ?? 0) > 0);
  await a.evaluate('window.__call.handle.setMuted(true); window.__call.handle.setCameraOff(true)');
  const state = (await latest(a))!;
  assert.equal((state as unknown as { muted: boolean }).muted, true);
  assert.equal((state as unknown as { cameraOff: boolean }).cameraOff, true);
  assert.deepEqual(await a.evaluate('window.__call.handle.state.localStream.getTracks().map((t) => t.enabled)'), [false, false]);
  const [sentBefore, decryptedBefore] = [(await stats(a)).worker!.sentFrames, (await stats(b)).worker!.decryptedFrames];
  const after = await untilStats(b, (s) => s.worker!.decryptedFrames > decryptedBefore + 50);
  const aAfter = await stats(a);
  assert.ok(aAfter.worker!.sentFrames > sentBefore + 50, 'the send transforms kept encrypting (silence and black frames)');
  assert.equal(aAfter.worker!.unsentNoKey, 0);
  assert.ok(after.worker!.decryptedFrames > decryptedBefore);
  await a.close();
  await b.close();
});

test('a browser without RTCRtpScriptTransform fails closed: encryption unavailable, no device opened, no signaling connection', async () => {
  relay = attachLoopbackSignaling(server.server);
  const page = await browser.newPage();
  await page.addInitScript(() => {
    delete (window as unknown as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform;
    const w = window as unknown as { __gumCalls: number };
    w.__gumCalls = 0;
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (constraints) => {
      w.__gumCalls += 1;
      return original(constraints);
    };
  });
  await page.goto(server.origin);
  await page.waitForFunction(() => '__call' in window);
  await start(page, randomUUID());
  const state = (await latest(page))!;
  assert.equal(state.phase, 'failed');
  assert.equal(state.encryption, 'unavailable');
  assert.equal(state.error?.code, 'E2EE_UNAVAILABLE');
  assert.match(state.error?.message ?? '', /cannot encrypt the call end to end/);
  assert.equal(await page.evaluate(() => (window as unknown as { __gumCalls: number }).__gumCalls), 0, 'no camera or microphone opened');
  assert.equal(relay.connections, 0, 'no signaling connection, so nothing published');
  await page.close();
});
