/**
 * A live consultation between the DESKTOP clinician (the browser harness:
 * the real renderer's ConsultPanel and call engine through
 * window.clinician.consult.* and main's signaling client) and the PATIENT
 * (the join page the backend serves), both in Chromium with fake camera and
 * microphone, through the real Janus and coturn inside the test network
 * namespace: each side decodes the other's video and audio (getStats
 * inbound-rtp framesDecoded and concealment-free audio samples), and the
 * remote <video> shows the fake camera's picture (a canvas sample that is
 * not uniform). Screenshot consult-live-call. Never logs a link or a key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { launchMediaChromium } from '../support/media-browser';
import { startMediaStack, type MediaStack } from '../support/media-stack';
import { ROOT, screenshot } from '../browser/harness';
import { enrolledDesktop, type EnrolledDesktop } from '../browser/enrolled-desktop';
import { pageMedia, pageState, waitForRemoteFrames } from './consult-room';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const keychain = testKeychain();
const dir = scratchDir('consult-desktop-call');
let stack: MediaStack;
let desktop: EnrolledDesktop;
let page: Page;
let patientContext: BrowserContext;

/** Keeps every RTCPeerConnection the page makes (window.__pcs), for getStats. A string: the test runner's transpiler must not touch page code. */
const KEEP_PEER_CONNECTIONS = `(() => {
  if (window.__pcs) return;
  window.__pcs = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})()`;

interface Inbound {
  framesDecoded: number;
  audioSamples: number;
  concealedSamples: number;
}

/** The page's inbound-rtp statistics summed over its peer connections (video frames decoded; audio samples received and concealed). */
async function inbound(target: Page): Promise<Inbound> {
  return (await target.evaluate(`(async () => {
    const out = { framesDecoded: 0, audioSamples: 0, concealedSamples: 0 };
    for (const pc of window.__pcs || []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
        if (s.kind === 'audio') { out.audioSamples += s.totalSamplesReceived || 0; out.concealedSamples += s.concealedSamples || 0; }
      });
    }
    return out;
  })()`)) as Inbound;
}

/** Waits (polling getStats, bounded) until the page has decoded video frames and real (not concealed) audio samples. */
async function waitForDecoding(target: Page, who: string): Promise<Inbound> {
  const deadline = Date.now() + 60_000;
  let last: Inbound = { framesDecoded: 0, audioSamples: 0, concealedSamples: 0 };
  while (Date.now() < deadline) {
    last = await inbound(target);
    if (last.framesDecoded > 0 && last.audioSamples - last.concealedSamples > 0) return last;
    await target.waitForTimeout(500);
  }
  assert.fail(`${who} decoded nothing: ${JSON.stringify(last)}; page: ${await pageState(target)}`);
}

before(async () => {
  stack = await startMediaStack();
  desktop = await enrolledDesktop(dir.path, keychain, {
    backendFlags: [
      '--bundles', CRITICAL_FILE,
      '--janus-url', stack.janusUrl,
      '--janus-secret-file', stack.janusSecretFile,
      ...stack.turnUrls.flatMap((u) => ['--turn-url', u]),
      '--turn-secret-file', stack.turnSecretFile,
    ],
    launch: () => launchMediaChromium(),
  });
  page = desktop.page;
  patientContext = await desktop.browser.newContext({ viewport: { width: 1366, height: 768 } });
  await patientContext.addInitScript(KEEP_PEER_CONNECTIONS);
  // Two pages encoding, encrypting and decoding video on a shared 2-core machine: generous waits, never sleeps.
  patientContext.setDefaultTimeout(90_000);
  page.setDefaultTimeout(90_000);
  await page.getByTestId('worklist-row').first().waitFor();
});

after(async () => {
  await patientContext?.close();
  await desktop?.close();
  await stack?.stop();
  dir.remove();
  await keychain.cleanup();
});

test('the desktop clinician and the patient on the join page each decode the other\'s video and audio, and the remote tile shows the camera picture', async () => {
  await page.evaluate(KEEP_PEER_CONNECTIONS);
  await page.getByTestId('worklist-row').filter({ hasText: 'Marguerite Vantongeren' }).locator('.open-button').click();
  await page.getByTestId('chart').waitFor();
  await page.getByTestId('consult-start').click();
  await page.getByTestId('consult-start-confirm').click();
  await page.locator('[data-testid=consult-call][data-phase="in-call"]').waitFor();
  await page.getByTestId('consult-invite').click();
  await page.getByTestId('consult-invite-patient').check();
  await page.getByTestId('consult-invite-submit').click();
  const link = await page.getByTestId('consult-invite-link').inputValue();
  await page.getByTestId('consult-invite-dialog').getByRole('button', { name: 'Done' }).click();

  const patient = await patientContext.newPage();
  await patient.goto(link);
  await patient.getByTestId('join-start').click();
  await patient.locator('[data-testid=consult-call][data-phase="in-call"]').waitFor();

  // getStats on both sides: video frames decoded and audio samples that are not concealment.
  const desk = await waitForDecoding(page, 'the desktop');
  const pat = await waitForDecoding(patient, 'the patient');
  assert.ok(desk.framesDecoded > 0 && pat.framesDecoded > 0);

  // On screen: the remote tile plays frames and shows the fake camera's picture (not a uniform black or grey), with sound.
  await waitForRemoteFrames(page, 1, 10, 60_000);
  await waitForRemoteFrames(patient, 1, 10, 60_000);
  const deskMedia = await pageMedia(page);
  const patMedia = await pageMedia(patient);
  assert.equal(deskMedia.remoteVideos, 1, 'the desktop shows the patient\'s video');
  assert.ok(deskMedia.pictureLevels > 4, `the desktop's remote tile shows the camera picture (${deskMedia.pictureLevels} grey levels)`);
  assert.ok(patMedia.pictureLevels > 4, `the patient's remote tile shows the camera picture (${patMedia.pictureLevels} grey levels)`);
  assert.ok(deskMedia.audioPeak > 0.01, `the desktop hears the patient (peak ${deskMedia.audioPeak})`);
  assert.ok(patMedia.audioPeak > 0.01, `the patient hears the clinician (peak ${patMedia.audioPeak})`);

  await page.setViewportSize({ width: 1366, height: 768 });
  const tile = page.locator('[data-testid=consult-tile][data-participant-role=patient]');
  await tile.scrollIntoViewIfNeeded();
  assert.ok(await page.getByTestId('consult-remote-video').isVisible(), 'the remote tile is on screen');
  await screenshot(page, 'consult-live-call');

  await page.getByTestId('consult-hang-up').click();
  await page.getByTestId('consult-end-for-everyone').click();
  await page.locator('[data-testid=consult-call][data-phase="ended"]').waitFor();
  await patient.close();
});
