/**
 * The call engine through the real stack: the backend as a process (its
 * signaling WebSocket, join links, TURN credentials per call) on SQLite and
 * on PostgreSQL, a real Janus VideoRoom (require_e2ee) and coturn inside the
 * test network namespace (test/run-tests.sh). A clinician starts a call and
 * invites two guests by link; two Chromium pages with the fake camera and
 * microphone join through socket-transport with their one-time tokens. Both
 * decrypt (in the media worker) and decode the other's video and audio
 * (framesDecoded > 0, audio samples decoded), and both show the same code.
 * A page without RTCRtpScriptTransform fails closed and the backend never
 * hears from it (its link stays unused); a spent link is refused with a
 * clear error while the call goes on.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { CONSULT_CALLS_PATH, consultInvitationsPath } from '../../shared/consult/consult-api';
import { parseJoinFragment } from '../../shared/consult/join-link';
import { SIGNALING_PATH } from '../../shared/consult/signaling-messages';
import type { CacheSession } from '../../electron/services/cache-session';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { registerDeviceAt } from '../support/backend-db';
import { startMediaStack, type MediaStack } from '../support/media-stack';
import { launchMediaChromium } from '../support/media-browser';
import { loadFixturePatients } from '../support/synthea';
import { scratchDir } from '../support/scratch';
import { serveCallEnginePage, type CallEngineServer } from './call-engine-server';
import { decodesVideoAndAudio, latest, openCallPage, startOnPage, untilState, untilStats } from './call-engine-driver';

const patient = loadFixturePatients()[0]!;
const encounterId = patient.bundle.entry.find((e) => e.resource.resourceType === 'Encounter')!.resource.id;

let stack: MediaStack;
let pages: CallEngineServer;
let browser: Browser;

before(async () => {
  stack = await startMediaStack();
  pages = await serveCallEnginePage();
  browser = await launchMediaChromium();
});
after(async () => {
  await browser?.close();
  await pages?.close();
  await stack?.stop();
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`call engine through the backend (${engine}), Janus and coturn`, () => {
    const dir = scratchDir(`call-engine-${engine}`);
    let backend: BackendProcess;
    let token: string;
    let socketUrl: string;

    before(async () => {
      backend = await startBackend({
        dataDir: dir.path,
        engine,
        origins: [pages.origin],
        flags: [
          '--public-url', pages.origin,
          '--janus-url', stack.janusUrl,
          '--janus-secret-file', stack.janusSecretFile,
          ...stack.turnUrls.flatMap((u) => ['--turn-url', u]),
          '--turn-secret-file', stack.turnSecretFile,
        ],
      });
      backend.admin(['add-clinician', 'dr.call', '--name', 'Dr Call', '--assign-all']);
      const device = generateKeyPairSync('ed25519');
      token = await registerDeviceAt(backend, 'dr.call', { profile: { profileId: randomUUID() }, keys: { publicKey: device.publicKey } } as unknown as CacheSession);
      socketUrl = `ws://127.0.0.1:${backend.port}${SIGNALING_PATH}`;
    });
    after(async () => {
      await backend?.dispose();
      dir.remove();
    });

    async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
      const r = await fetch(backend.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      return JSON.parse(text) as Record<string, unknown>;
    }

    async function invite(callId: string, kind: 'patient' | 'interpreter'): Promise<string> {
      const { link } = await post(consultInvitationsPath(callId), { invitee: { kind } });
      const parsed = parseJoinFragment(new URL(String(link)).hash);
      assert.ok(parsed && parsed.callId === callId);
      return parsed.token;
    }

    test('two pages in a call through Janus both decrypt and decode video and audio, and show the same code', async () => {
      const { callId } = (await post(CONSULT_CALLS_PATH, { patientId: patient.id, encounterId })) as { callId: string };
      const [patientToken, interpreterToken] = [await invite(callId, 'patient'), await invite(callId, 'interpreter')];
      const a = await openCallPage(browser, pages.origin);
      const b = await openCallPage(browser, pages.origin);
      try {
        await startOnPage(a, callId, patientToken, socketUrl);
        await untilState(a, "s.phase === 'in-call'");
        await startOnPage(b, callId, interpreterToken, socketUrl);
        const [sa, sb] = await Promise.all([untilStats(a, decodesVideoAndAudio, 60_000), untilStats(b, decodesVideoAndAudio, 60_000)]);
        for (const s of [sa, sb]) {
          assert.ok(s.worker && s.worker.decryptedFrames > 0, 'the worker decrypted what Janus forwarded');
          assert.equal(s.worker.droppedAuth, 0);
          assert.ok(s.outbound.videoFramesEncoded > 0);
        }
        const [stA, stB] = [(await latest(a))!, (await latest(b))!];
        assert.match(stA.code ?? '', /^\d{6}$/);
        assert.equal(stA.code, stB.code, 'both sides show the same code');
        assert.equal(stA.encryption, 'e2ee-unverified');
        assert.equal(stA.error, null);
        assert.equal(stB.error, null);
        await a.waitForFunction(() => Array.from(document.querySelectorAll('video')).some((v) => v.videoWidth > 0 && v.currentTime > 0));
        await a.evaluate('window.__call.handle.hangUp()');
        await untilState(b, 's.participants.length === 1');
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a page without RTCRtpScriptTransform fails closed: the backend never hears from it and its link stays unused (a second use of the spent link is refused)', async () => {
      const { callId } = (await post(CONSULT_CALLS_PATH, { patientId: patient.id, encounterId })) as { callId: string };
      const linkToken = await invite(callId, 'patient');
      const page = await browser.newPage();
      await page.addInitScript('delete window.RTCRtpScriptTransform');
      await page.goto(pages.origin);
      await page.waitForFunction(() => '__call' in globalThis);
      await startOnPage(page, callId, linkToken, socketUrl);
      const state = (await latest(page))!;
      assert.equal(state.phase, 'failed');
      assert.equal(state.encryption, 'unavailable');
      assert.equal(state.error?.code, 'E2EE_UNAVAILABLE');
      await page.close();
      // The same link still works for a capable browser: nothing was spent on the failed attempt.
      const capable = await openCallPage(browser, pages.origin);
      await startOnPage(capable, callId, linkToken, socketUrl);
      await untilState(capable, "s.phase === 'in-call'");
      // Now the link is spent: a second use is refused with the clinician-readable reason, and the call goes on.
      const reuse = await openCallPage(browser, pages.origin);
      await startOnPage(reuse, callId, linkToken, socketUrl);
      const refused = await untilState(reuse, "s.phase === 'failed'");
      assert.equal(refused.error?.code, 'NOT_ALLOWED');
      assert.match(refused.error?.message ?? '', /cannot join this consultation/);
      await reuse.close();
      assert.equal((await latest(capable))!.phase, 'in-call');
      await capable.evaluate('window.__call.handle.hangUp()');
      await capable.close();
    });
  });
}
