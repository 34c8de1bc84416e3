/**
 * The media server seam against the real Janus VideoRoom (started by
 * test/support/media-stack.ts in the test namespace) and real Chromium pages
 * with fake devices: rooms require end-to-end encrypted media, a published
 * feed reaches a subscriber through Janus (over coturn relays), Janus records
 * when asked, and every failure is a typed error without Janus's text.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { janusMediaServer, MediaServerError, type MediaServer } from '../server/signaling/media-server.ts';
import { turnCredentials } from '../server/signaling/turn-credentials.ts';
import { JanusSession } from '../server/signaling/janus-client.ts';
import type { Jsep } from '../shared/consult/signaling-messages.ts';
import { startMediaStack, type MediaStack } from './support/media-stack.ts';
import { launchMediaChromium } from './support/media-browser.ts';
import { readRecordings } from './support/mjr-recording.ts';
import {
  applyAnswer,
  firstVideoFrame,
  pageStats,
  publishOffer,
  serveMediaTestPage,
  subscribeAnswer,
  type MediaTestPageServer,
  type PageRtcConfig,
} from './support/media-test-page.ts';

let stack: MediaStack;
let browser: Browser;
let pageServer: MediaTestPageServer;
let media: MediaServer;
const recordDir = mkdtempSync(join(tmpdir(), 'clinician-recordings-'));

before(async () => {
  stack = await startMediaStack({ recordDir });
  browser = await launchMediaChromium();
  pageServer = await serveMediaTestPage();
  media = janusMediaServer({ url: stack.janusUrl, apiSecret: stack.janusApiSecret, feedWaitMs: 1000 });
});

after(async () => {
  await media?.close();
  await browser?.close();
  await pageServer?.close();
  await stack?.stop();
  rmSync(recordDir, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(pageServer.url);
  return page;
}

function relayConfig(user: string): PageRtcConfig {
  const server = turnCredentials({ urls: stack.turnUrls, secret: stack.turnSecret, ttlSeconds: 600 }, user, new Date());
  return { iceServers: [server], iceTransportPolicy: 'relay' };
}

function assertTyped(error: unknown, code: string, ...secrets: string[]): true {
  assert.ok(error instanceof MediaServerError, `expected a MediaServerError, got ${String(error)}`);
  assert.equal(error.code, code);
  for (const secret of secrets) assert.ok(!error.message.includes(secret), 'the error message must not carry ids');
  return true;
}

test('a publish whose jsep lacks e2ee: true is refused by the room (E2EE_REQUIRED); with it, a subscriber (subscribing while the publisher still connects) decodes video and receives audio through Janus over TURN relays, and Janus records the room', async () => {
  const server = janusMediaServer({ url: stack.janusUrl, apiSecret: stack.janusApiSecret, recordDir });
  const callId = randomUUID();
  const alice = `alice-${randomUUID().slice(0, 8)}`;
  const bob = `bob-${randomUUID().slice(0, 8)}`;
  const publisher = await openPage();
  const subscriber = await openPage();
  try {
    await server.openRoom(callId);
    await server.openRoom(callId); // idempotent,
    await media.openRoom(callId); // also from another backend instance

    const offer = await publishOffer(publisher, relayConfig(alice));
    await assert.rejects(server.publish(callId, alice, { type: 'offer', sdp: offer }), (e) => assertTyped(e, 'E2EE_REQUIRED', callId, alice));
    await assert.rejects(server.publish(callId, alice, { type: 'offer', sdp: offer, e2ee: false }), (e) => assertTyped(e, 'E2EE_REQUIRED', callId, alice));

    const answer = await server.publish(callId, alice, { type: 'offer', sdp: offer, e2ee: true });
    assert.equal(answer.type, 'answer');
    // Subscribing while the publisher is still connecting waits for Janus to report the feed up (no race).
    const [subscriberOffer] = await Promise.all([server.subscribe(callId, bob, alice), applyAnswer(publisher, answer.sdp)]);
    assert.equal(subscriberOffer.type, 'offer');
    const subscriberAnswer = await subscribeAnswer(subscriber, relayConfig(bob), subscriberOffer.sdp);
    await server.answer(callId, bob, alice, { type: 'answer', sdp: subscriberAnswer });

    assert.equal(await firstVideoFrame(subscriber), true);
    const stats = await pageStats(subscriber);
    assert.ok(stats.framesDecoded > 0, 'the subscriber decoded video frames');
    assert.ok(stats.audioPackets > 0, 'the subscriber received audio');
    assert.deepEqual(stats.localCandidateTypes, ['relay'], 'media went through the TURN relay');
    const sent = await pageStats(publisher);
    assert.deepEqual(sent.localCandidateTypes, ['relay']);

    // Janus records the room into recordDir (its own .mjr files, one per published stream).
    await server.leave(callId, alice);
    await server.leave(callId, bob);
    await server.closeRoom(callId);
    // Each holds what the subscriber got: RTP packets, not a byte count (a short call's audio file can stay under 1 kB).
    const recordings = readRecordings(recordDir).filter((r) => r.file.includes(callId));
    const video = recordings.filter((r) => r.info.t === 'v');
    const audio = recordings.filter((r) => r.info.t === 'a');
    assert.ok(video.length > 0 && video.every((r) => r.info.c === 'vp8'), `a video recording exists (${recordings.map((r) => r.file).join(', ')})`);
    assert.ok(audio.length > 0 && audio.every((r) => r.info.c === 'opus'), 'an audio recording exists');
    for (const r of recordings) assert.ok(r.packets.length > 0, `the recording holds media (${r.info.t}: ${r.packets.length} packets)`);
  } finally {
    await server.close();
    await publisher.context().close();
    await subscriber.context().close();
  }
});

test('without recordDir nothing is recorded; a missing or departed feed cannot be subscribed and a closed room refuses publishing (NOT_ALLOWED)', async () => {
  const callId = randomUUID();
  const carol = `carol-${randomUUID().slice(0, 8)}`;
  const dave = `dave-${randomUUID().slice(0, 8)}`;
  const page = await openPage();
  try {
    await media.openRoom(callId);
    await assert.rejects(media.subscribe(callId, carol, 'nobody-published'), (e) => assertTyped(e, 'NOT_ALLOWED', callId, 'nobody-published'));
    await assert.rejects(media.answer(callId, carol, 'never-subscribed', { type: 'answer', sdp: 'v=0' }), (e) => assertTyped(e, 'NOT_ALLOWED'));
    const offer = await publishOffer(page, {});
    const answer = await media.publish(callId, carol, { type: 'offer', sdp: offer, e2ee: true });
    await applyAnswer(page, answer.sdp);
    assert.equal((await media.subscribe(callId, dave, carol)).type, 'offer');
    // After leave, the feed is gone from Janus: nobody can subscribe to it any more.
    await media.leave(callId, carol);
    await assert.rejects(media.subscribe(callId, dave, carol), (e) => assertTyped(e, 'NOT_ALLOWED', callId, carol));
    await media.closeRoom(callId);
    await media.closeRoom(callId); // idempotent
    assert.deepEqual(readdirSync(recordDir).filter((name) => name.includes(callId)), []);
    await assert.rejects(media.publish(callId, carol, { type: 'offer', sdp: offer, e2ee: true }), (e) => assertTyped(e, 'NOT_ALLOWED', callId, carol));
  } finally {
    await page.context().close();
  }
});

/** Who is in the room as Janus itself lists it (VideoRoom listparticipants, on a session of the test's own). */
async function roomParticipants(callId: string): Promise<string[]> {
  const session = await JanusSession.create(stack.janusUrl, stack.janusApiSecret);
  try {
    const handle = await session.attach('janus.plugin.videoroom');
    const reply = await session.message(handle, { request: 'listparticipants', room: callId });
    return ((reply.data['participants'] ?? []) as Array<{ id: string }>).map((p) => p.id).filter((id) => !id.startsWith('watch-'));
  } finally {
    await session.destroy();
  }
}

/** A fresh room, a participant id and an end-to-end encrypted offer from a page of its own; afterwards the participant, room and page are gone, whatever the test did. */
async function withRoom(prefix: string, body: (callId: string, participantId: string, offer: Jsep) => Promise<void>): Promise<void> {
  const callId = randomUUID();
  const participantId = `${prefix}-${randomUUID().slice(0, 8)}`;
  const page = await openPage();
  try {
    await media.openRoom(callId);
    await body(callId, participantId, { type: 'offer', sdp: await publishOffer(page, {}), e2ee: true });
  } finally {
    await media.leave(callId, participantId);
    await media.closeRoom(callId);
    await page.context().close();
  }
}

test('two publishes of one participant at once (a re-publish racing the first): both are answered, one after the other, and the participant can publish again afterwards (no Janus handle is left holding its id)', async () => {
  await withRoom('erin', async (callId, erin, offer) => {
    const both = await Promise.allSettled([media.publish(callId, erin, offer), media.publish(callId, erin, offer)]);
    assert.deepEqual(both.map((r) => (r.status === 'fulfilled' ? r.value.type : (r.reason as MediaServerError).code)), ['answer', 'answer']);
    assert.equal((await media.publish(callId, erin, offer)).type, 'answer', 'a later re-publish still joins');
    assert.deepEqual(await roomParticipants(callId), [erin]);
  });
});

test('a participant who leaves while publishes are still queued is gone from the room afterwards (no queued publish joins again)', async () => {
  await withRoom('fay', async (callId, fay, offer) => {
    const publishes = [media.publish(callId, fay, offer), media.publish(callId, fay, offer)];
    await media.leave(callId, fay);
    await Promise.allSettled(publishes);
    assert.deepEqual(await roomParticipants(callId), [], 'nobody is left in the room after the leave');
  });
});

test('a wrong Janus API secret or an unreachable Janus is MEDIA_UNAVAILABLE', async () => {
  const wrongSecret = janusMediaServer({ url: stack.janusUrl, apiSecret: 'not-the-secret' });
  await assert.rejects(wrongSecret.openRoom(randomUUID()), (e) => assertTyped(e, 'MEDIA_UNAVAILABLE'));
  const noSecret = janusMediaServer({ url: stack.janusUrl });
  await assert.rejects(noSecret.openRoom(randomUUID()), (e) => assertTyped(e, 'MEDIA_UNAVAILABLE'));
  const gone = janusMediaServer({ url: 'http://127.0.0.1:9/janus', apiSecret: stack.janusApiSecret });
  await assert.rejects(gone.openRoom(randomUUID()), (e) => assertTyped(e, 'MEDIA_UNAVAILABLE'));
  await Promise.all([wrongSecret.close(), noSecret.close(), gone.close()]);
});
