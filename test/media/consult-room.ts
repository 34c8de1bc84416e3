/**
 * A consultation set up for the end-to-end media tests, from real parts
 * only: Janus and coturn (test/support/media-stack.ts, inside the test
 * network namespace), the backend as a child process (SQLite) wired to them
 * with the flags an operator uses, a clinician enrolled over HTTP with a
 * virtual passkey and an Ed25519 device key (the host, who starts the call
 * for a fixture patient's Encounter and issues the links), and Chromium with
 * fake camera and microphone opening the backend's own join page from those
 * links. Never a mock; never logs a link, a token or a key.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CONSULT_CALLS_PATH, consultInvitationsPath } from '../../shared/consult/consult-api';
import { parseJoinFragment } from '../../shared/consult/join-link';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { startMediaStack, type MediaStack } from '../support/media-stack';
import { launchMediaChromium } from '../support/media-browser';
import { Authenticator, newDevice, post, type TestDevice } from '../support/passkey-ceremony';
import { loadFixturePatients } from '../support/synthea';
import { serveRenderer, type RendererServer } from '../browser/harness';

export type GuestKind = 'patient' | 'interpreter' | 'family';

export interface JoinLink {
  /** The link as issued (backend public address, token in the fragment). */
  url: string;
  callId: string;
  token: string;
}

export interface ConsultRoom {
  stack: MediaStack;
  backend: BackendProcess;
  renderer: RendererServer;
  browser: Browser;
  host: { clinicianId: string; token: string; device: TestDevice };
  patientId: string;
  encounterId: string;
  /** Enrolls another clinician (assigned no patient, invited to nothing) and returns their session token. */
  enrollClinician(clinicianId: string): Promise<string>;
  /** Starts a call as the host. */
  startCall(): Promise<string>;
  /** A one-time join link from the host. */
  invite(callId: string, kind: GuestKind): Promise<JoinLink & { expiresAt: string }>;
  /** Opens a join link in a new page (optionally through another origin, e.g. a proxy) and presses "Join the call". */
  joinPage(link: JoinLink, options?: { origin?: string; start?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

export function fixtureEncounter(): { patientId: string; encounterId: string } {
  for (const patient of loadFixturePatients()) {
    const encounter = patient.bundle.entry.find((e) => e.resource.resourceType === 'Encounter');
    if (encounter) return { patientId: patient.id, encounterId: encounter.resource.id };
  }
  throw new Error('no fixture patient has an Encounter');
}

export async function consultRoom(dir: string, options: { recordDir?: string; backendFlags?: string[] } = {}): Promise<ConsultRoom> {
  mkdirSync(dir, { recursive: true });
  const stack = await startMediaStack(options.recordDir ? { recordDir: options.recordDir } : {});
  const renderer = await serveRenderer();
  const flags = [
    '--janus-url', stack.janusUrl,
    '--janus-secret-file', stack.janusSecretFile,
    ...(options.recordDir ? ['--janus-record-dir', options.recordDir] : []),
    ...stack.turnUrls.flatMap((u) => ['--turn-url', u]),
    '--turn-secret-file', stack.turnSecretFile,
    ...(options.backendFlags ?? []),
  ];
  let backend: BackendProcess | null = null;
  let browser: Browser | null = null;
  try {
    backend = await startBackend({ dataDir: join(dir, 'backend'), origins: [renderer.origin], flags });
    backend.admin(['add-clinician', 'dr.kim', '--name', 'Dr Kim Lee', '--assign-all']);
    browser = await launchMediaChromium();
    const b0 = backend;
    const br0 = browser;
    const enroll = async (clinicianId: string, device: TestDevice): Promise<string> => {
      const authenticator = await Authenticator.open(br0, renderer.origin);
      const code = b0.admin(['enroll-code', clinicianId]);
      const opts = await post(b0.url, '/v1/enroll/options', { clinicianId, code });
      assert.equal(opts.status, 200, opts.text);
      const response = await authenticator.create(opts.json.options);
      const enrolled = await post(b0.url, '/v1/enroll/verify', { clinicianId, code, response, device: { id: device.id, publicKey: device.publicKey } });
      assert.equal(enrolled.status, 200, enrolled.text);
      await authenticator.close();
      return enrolled.json.token as string;
    };
    const device = newDevice();
    const token = await enroll('dr.kim', device);
    const { patientId, encounterId } = fixtureEncounter();
    const b = backend;
    const br = browser;
    return {
      stack,
      backend: b,
      renderer,
      browser: br,
      host: { clinicianId: 'dr.kim', token, device },
      patientId,
      encounterId,
      async enrollClinician(clinicianId) {
        b.admin(['add-clinician', clinicianId, '--name', 'Dr Outside']);
        return enroll(clinicianId, newDevice());
      },
      async startCall() {
        const r = await post(b.url, CONSULT_CALLS_PATH, { patientId, encounterId }, token);
        assert.equal(r.status, 200, r.text);
        return r.json.callId as string;
      },
      async invite(callId, kind) {
        const r = await post(b.url, consultInvitationsPath(callId), { invitee: { kind } }, token);
        assert.equal(r.status, 200, r.text);
        const url = r.json.link as string;
        const parsed = parseJoinFragment(new URL(url).hash);
        assert.ok(parsed, 'the link carries call and token in its fragment');
        return { url, ...parsed, expiresAt: r.json.expiresAt as string };
      },
      async joinPage(link, joinOptions = {}) {
        const page = await br.newPage({ viewport: { width: 1000, height: 760 } });
        const url = new URL(link.url);
        const target = joinOptions.origin ? `${joinOptions.origin}${url.pathname}${url.hash}` : link.url;
        await page.goto(target);
        if (joinOptions.start !== false) {
          await page.getByTestId('join-start').click();
          // In the call, or refused (a used or expired link).
          await page.locator('[data-testid="consult-call"], [data-testid="join-invalid"]').first().waitFor();
        }
        return page;
      },
      async close() {
        await br.close().catch(() => undefined);
        await b.dispose();
        await renderer.close();
        await stack.stop();
      },
    };
  } catch (error) {
    await browser?.close().catch(() => undefined);
    await backend?.dispose().catch(() => undefined);
    await renderer.close();
    await stack.stop();
    throw error;
  }
}

export interface PageMedia {
  /** Remote <video> elements on the page. */
  remoteVideos: number;
  /** Frames the remote videos have presented (sum of getVideoPlaybackQuality().totalVideoFrames). */
  framesShown: number;
  /** Distinct grey levels in a 32x24 sample of each remote video's current picture (min over videos); 1 = uniform. */
  pictureLevels: number;
  /** Peak absolute sample of the remote audio over a short analysis window (0 = silence / nothing decoded). */
  audioPeak: number;
}

/** What the page shows of the other participants' media, sampled from the DOM (canvas for the picture, Web Audio for sound). */
export function pageMedia(page: Page): Promise<PageMedia> {
  return page.evaluate(async () => {
    const videos = Array.from(document.querySelectorAll<HTMLVideoElement>('[data-testid="consult-remote-video"]'));
    let framesShown = 0;
    let pictureLevels = videos.length ? Infinity : 0;
    let audioPeak = 0;
    for (const video of videos) {
      framesShown += video.getVideoPlaybackQuality().totalVideoFrames;
      const canvas = document.createElement('canvas');
      canvas.width = 32;
      canvas.height = 24;
      const context = canvas.getContext('2d', { willReadFrequently: true })!;
      context.drawImage(video, 0, 0, 32, 24);
      const pixels = context.getImageData(0, 0, 32, 24).data;
      const levels = new Set<number>();
      for (let i = 0; i < pixels.length; i += 4) levels.add((pixels[i]! + pixels[i + 1]! + pixels[i + 2]!) >> 4);
      pictureLevels = Math.min(pictureLevels, levels.size);
      const stream = video.srcObject instanceof MediaStream ? video.srcObject : null;
      const track = stream?.getAudioTracks()[0];
      if (track) {
        const audio = new AudioContext();
        const analyser = audio.createAnalyser();
        analyser.fftSize = 2048;
        audio.createMediaStreamSource(new MediaStream([track])).connect(analyser);
        const buffer = new Float32Array(analyser.fftSize);
        if (audio.state !== 'running') await audio.resume();
        // The fake microphone beeps about once a second: listen until a beep or 4 s.
        const until = performance.now() + 4000;
        while (performance.now() < until && audioPeak < 0.05) {
          await new Promise((r) => setTimeout(r, 20));
          analyser.getFloatTimeDomainData(buffer);
          for (const s of buffer) audioPeak = Math.max(audioPeak, Math.abs(s));
        }
        await audio.close();
      }
    }
    return { remoteVideos: videos.length, framesShown, pictureLevels: Number.isFinite(pictureLevels) ? pictureLevels : 0, audioPeak };
  });
}

/** Resolves once the page's remote videos (at least `count`) have each shown more than `frames` frames. */
export async function waitForRemoteFrames(page: Page, count: number, frames = 0, timeoutMs = 45_000): Promise<void> {
  await page
    .waitForFunction(
    ([count, frames]) => {
      const videos = Array.from(document.querySelectorAll<HTMLVideoElement>('[data-testid="consult-remote-video"]'));
      return videos.length >= count && videos.every((v) => v.getVideoPlaybackQuality().totalVideoFrames > frames);
    },
    [count, frames] as const,
    { timeout: timeoutMs, polling: 250 },
  )
    .catch(async (error: unknown) => {
      throw new Error(`${String(error)}\npage state: ${await pageState(page)}`);
    });
}

/** What a consultation page shows (phase, encryption, its text), for a failure message. */
export async function pageState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const call = document.querySelector('[data-testid="consult-call"]');
    const encryption = document.querySelector('[data-testid="consult-encryption"]');
    const videos = Array.from(document.querySelectorAll<HTMLVideoElement>('[data-testid="consult-remote-video"]')).map((v) => v.getVideoPlaybackQuality().totalVideoFrames);
    return JSON.stringify({ phase: call?.getAttribute('data-phase'), encryption: encryption?.getAttribute('data-encryption'), videos, text: (document.body.innerText || '').slice(0, 600) });
  });
}
