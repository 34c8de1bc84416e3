/**
 * Frame-level attacks on a consultation through the real Janus, coturn and
 * backend, with the backend's join page in Chromium (fake camera and
 * microphone), the frames travelling through the media server:
 *  - a tampered frame is dropped and counted: the interpreter's page runs the
 *    real media worker with one bit of every outgoing frame's authentication
 *    tag flipped after the real SFrame encryption (test/browser/
 *    tampering-media-worker.ts, as a tampering media server would); the
 *    patient's worker counts them as failed authentication, decrypts none,
 *    the page plays none and says "Cannot decrypt media from Interpreter",
 *    while the interpreter still decodes the patient (control);
 *  - a participant given a wrong key decodes nothing and says so: a
 *    signaling relay in front of the family member's page shows it an
 *    attacker's call key as the patient's and hands it, in place of each of
 *    the patient's sealed keys, a random key sealed with that attacker key;
 *    the family member's worker installs it, then every frame of the patient
 *    arriving from Janus fails authentication (counted), none is played, and
 *    the page says "Cannot decrypt media from Patient". That the frames did
 *    arrive and were tried under a key is shown by the counters themselves
 *    (failed authentication, no missing key) and the packets received; the
 *    tampering test above is the control that the same path decodes. Two
 *    pages only: with a third page, one whose welcome named two feeds at once
 *    never got media on one subscription (DTLS stuck after ICE connected), see
 *    the report of this session.
 * The worker's counters are read as the page's call engine reads them (the
 * `stats` answers it asks for every second), never through a test hook in the
 * product. Never logs a link, a token or a key.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { Page } from 'playwright-core';
import { generateCallKeyPair, sealSenderKey } from '../../shared/consult/call-keys';
import { fromBase64url, toBase64url } from '../../shared/consult/base64url';
import type { MediaWorkerStats } from '../../shared/consult/media-worker-protocol';
import { ROOT } from '../browser/harness';
import { scratchDir } from '../support/scratch';
import { consultRoom, pageState, type ConsultRoom, type JoinLink } from './consult-room';
import { startSignalingProxy } from './signaling-proxy';

const scratch = scratchDir('consult-frame-attacks');
after(() => scratch.remove());

/**
 * From the page's first script: the latest counters the media worker sent its page (the engine asks every second),
 * and every RTCPeerConnection (for inbound packet counts). A string: it runs in the page as is.
 */
const WATCH_PAGE = `(() => {
  window.__workerStats = null;
  window.__pcs = [];
  const OriginalWorker = window.Worker;
  window.Worker = class extends OriginalWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => { if (e.data && e.data.type === 'stats') window.__workerStats = e.data.stats; });
    }
  };
  const OriginalPc = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends OriginalPc {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})()`;

/** The tampering worker (the real worker plus a bit flip after encryption), as an ES module like the product's. */
function tamperingWorker(): string {
  return buildSync({ entryPoints: [join(ROOT, 'test/browser/tampering-media-worker.ts')], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'chrome120' }).outputFiles[0]!.text;
}

/** Opens a join link in its own browser context with WATCH_PAGE (and, for `workerSource`, that worker in place of the product's), and joins. */
async function joinWatched(room: ConsultRoom, link: JoinLink, options: { origin?: string; workerSource?: string } = {}): Promise<Page> {
  const context = await room.browser.newContext({ viewport: { width: 1000, height: 760 } });
  context.setDefaultTimeout(90_000);
  await context.addInitScript(WATCH_PAGE);
  const workerSource = options.workerSource;
  if (workerSource !== undefined) {
    await context.route(/\/assets\/media-worker-[^/]*\.js(\?.*)?$/, (route) => route.fulfill({ body: workerSource, contentType: 'text/javascript' }));
  }
  const page = await context.newPage();
  const url = new URL(link.url);
  await page.goto(options.origin ? `${options.origin}${url.pathname}${url.hash}` : link.url);
  await page.getByTestId('join-start').click();
  await page.locator('[data-testid="consult-call"][data-phase="in-call"]').waitFor();
  return page;
}

function workerStats(page: Page): Promise<MediaWorkerStats | null> {
  return page.evaluate('window.__workerStats') as Promise<MediaWorkerStats | null>;
}

/** Video packets received from the media server over all the page's connections (frames arrived, whatever became of them). */
function videoPacketsReceived(page: Page): Promise<number> {
  return page.evaluate(`(async () => {
    let packets = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') packets += s.packetsReceived || 0; });
    }
    return packets;
  })()`) as Promise<number>;
}

/** Frames the tile of `name` has played (its <video>, labelled "Video of <name>"); 0 without a video. */
function framesShownOf(page: Page, name: string): Promise<number> {
  return page.evaluate((label) => {
    const video = document.querySelector<HTMLVideoElement>(`video[aria-label="${label}"]`);
    return video ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
  }, `Video of ${name}`);
}

/** What the page's connections did (state, inbound video packets and frames), for a failure message. */
function connections(page: Page): Promise<unknown> {
  return page.evaluate(`(async () => Promise.all(window.__pcs.map(async (pc) => {
    const out = { state: pc.connectionState, ice: pc.iceConnectionState, packets: 0, decoded: 0 };
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') { out.packets += s.packetsReceived || 0; out.decoded += s.framesDecoded || 0; } });
    return out;
  })))()`);
}

/** What the worker's counters must reach: some sender with this many frames failing authentication, or frames decrypted and sent. */
type StatsGoal = { senderDroppedAuth: number } | { decryptedAndSent: number };

/** Resolves once the worker's counters (they arrive every second) reach `goal`; the failure carries the last counters. */
async function waitForStats(page: Page, what: string, goal: StatsGoal): Promise<MediaWorkerStats> {
  await page
    .waitForFunction((goal) => {
      const s = (window as unknown as { __workerStats: MediaWorkerStats | null }).__workerStats;
      if (s === null) return false;
      if ('senderDroppedAuth' in goal) return s.perSender.some((p) => p.droppedAuth >= goal.senderDroppedAuth);
      return s.decryptedFrames >= goal.decryptedAndSent && s.sentFrames >= goal.decryptedAndSent;
    }, goal, { timeout: 90_000, polling: 250 })
    .catch(async (error: unknown) => {
      throw new Error(`${what}: ${String(error)}\nworker: ${JSON.stringify(await workerStats(page))}\nconnections: ${JSON.stringify(await connections(page))}\npage: ${await pageState(page)}`);
    });
  return (await workerStats(page))!;
}

async function waitForShown(page: Page, name: string, frames: number): Promise<void> {
  await page.waitForFunction(([label, frames]) => {
    const video = document.querySelector<HTMLVideoElement>(`video[aria-label="${label}"]`);
    return !!video && video.getVideoPlaybackQuality().totalVideoFrames > frames;
  }, [`Video of ${name}`, frames] as const, { timeout: 90_000, polling: 250 }).catch(async (error: unknown) => {
    throw new Error(`${String(error)}\npage: ${await pageState(page)}`);
  });
}

test('a tampered frame, through Janus, is dropped and counted as failed authentication: never played, and the page says it cannot decrypt that participant', { timeout: 300_000 }, async () => {
  const room = await consultRoom(join(scratch.path, 'tampered'));
  after(() => room.close());
  const callId = await room.startCall();
  const patient = await joinWatched(room, await room.invite(callId, 'patient'));
  const interpreter = await joinWatched(room, await room.invite(callId, 'interpreter'), { workerSource: tamperingWorker() });

  // Control: the interpreter's page (its receiving side is the real worker) decodes the patient through Janus.
  await waitForShown(interpreter, 'Patient', 10);

  // At the patient, the interpreter's frames arrive and fail authentication, all of them.
  const counted = await waitForStats(patient, 'the patient counts the tampered frames', { senderDroppedAuth: 30 });
  await patient.getByTestId('consult-cannot-decrypt').waitFor();
  assert.match((await patient.getByTestId('consult-cannot-decrypt').textContent()) ?? '', /^Cannot decrypt media from Interpreter$/);
  const fromInterpreter = counted.perSender;
  assert.equal(fromInterpreter.length, 1, 'one other participant');
  assert.equal(fromInterpreter[0]!.decryptedFrames, 0, 'no tampered frame decrypts');
  assert.ok(counted.droppedAuth >= 30, `dropped and counted as failed authentication (${counted.droppedAuth})`);
  assert.equal(counted.decryptedFrames, 0, 'the patient\'s worker decrypted nothing');
  assert.ok((await videoPacketsReceived(patient)) > 0, 'the tampered frames did come through the media server');
  assert.equal(await framesShownOf(patient, 'Interpreter'), 0, 'and none was played');
  // The interpreter's own worker sent real frames (the flip comes after its encryption) and decrypts the patient's.
  const interpreterStats = await waitForStats(interpreter, 'the interpreter decrypts the patient', { decryptedAndSent: 1 });
  assert.equal(interpreterStats.droppedAuth, 0, 'the patient\'s frames are intact');
  assert.equal(await interpreter.getByTestId('consult-cannot-decrypt').count(), 0);
});

test('a participant given a wrong key, through Janus, decodes nothing of that sender, counts every frame as failed authentication, and says so', { timeout: 300_000 }, async () => {
  const room = await consultRoom(join(scratch.path, 'wrong-key'));
  after(() => room.close());
  const callId = await room.startCall();
  const attacker = await generateCallKeyPair();
  const attackerPublic = toBase64url(attacker.publicKey);
  let self: { id: string; publicKey: Uint8Array } | null = null;
  let patientId: string | null = null;
  let wrongKeys = 0;
  // Shown to the family member only: the attacker's key as the patient's, and a random key sealed with it in place of each of the patient's keys.
  const asPatient = (participant: Record<string, unknown>) => {
    if (participant.role !== 'patient') return participant;
    patientId = participant.participantId as string;
    return { ...participant, callKey: { ...(participant.callKey as object), publicKey: attackerPublic } };
  };
  const proxy = await startSignalingProxy(room.backend.url, async (direction, message) => {
    if (direction !== 'to-client') return message;
    if (message.type === 'welcome') {
      const roster = message.roster as Array<Record<string, unknown>>;
      const own = roster.find((p) => p.participantId === message.participantId)!;
      self = { id: message.participantId as string, publicKey: fromBase64url((own.callKey as { publicKey: string }).publicKey) };
      return { ...message, roster: roster.map(asPatient) };
    }
    if (message.type === 'joined') return { ...message, participant: asPatient(message.participant as Record<string, unknown>) };
    const from = patientId;
    if (message.type === 'key' && self && from !== null && message.from === from) {
      const sealed = await sealSenderKey({ callId, from, to: self.id, epoch: message.epoch as number, sender: attacker, recipientPublicKey: self.publicKey, baseKey: randomBytes(16) });
      wrongKeys += 1;
      return { ...message, enc: toBase64url(sealed.enc), ciphertext: toBase64url(sealed.ciphertext) };
    }
    return message;
  });
  after(() => proxy.close());

  const patient = await joinWatched(room, await room.invite(callId, 'patient'));
  const family = await joinWatched(room, await room.invite(callId, 'family'), { origin: proxy.origin });

  // The family member's worker installed the wrong key (it opened: the relay sealed it with the key it showed; failing
  // authentication needs a key for the frame's KID, a missing one counts as droppedNoKey), and the
  // patient's frames, arriving from Janus, all fail authentication under it.
  const counted = await waitForStats(family, 'the family member counts the patient\'s frames as failed', { senderDroppedAuth: 30 });
  assert.ok(wrongKeys >= 1, `the relay handed over a wrong key (${wrongKeys})`);
  const fromPatient = counted.perSender.find((p) => p.participantId === patientId);
  assert.ok(fromPatient, 'the patient is among the senders');
  assert.equal(fromPatient.decryptedFrames, 0, 'not one of the patient\'s frames decrypts under the wrong key');
  assert.ok(fromPatient.droppedAuth >= 30, `each is dropped and counted as failed authentication (${fromPatient.droppedAuth})`);
  await family.getByTestId('consult-cannot-decrypt').first().waitFor();
  const problems = await family.getByTestId('consult-cannot-decrypt').allTextContents();
  assert.ok(problems.includes('Cannot decrypt media from Patient'), `the page says so (${JSON.stringify(problems)})`);
  assert.equal(await framesShownOf(family, 'Patient'), 0, 'nothing of the patient is played');
  assert.ok((await videoPacketsReceived(family)) > 0, 'the patient\'s frames did reach the family member through the media server');
  assert.equal(await patient.getByTestId('consult-call').getAttribute('data-phase'), 'in-call');
});
