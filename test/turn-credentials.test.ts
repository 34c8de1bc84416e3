/**
 * TURN REST credentials (server/signaling/turn-credentials.ts) against the
 * real coturn of the media stack: Chromium with iceTransportPolicy 'relay'
 * gets a relay candidate with a credential the backend issued, and none with
 * a credential made with another secret, an expired one, or a username whose
 * expiry was pushed forward without a new HMAC.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { turnCredentials } from '../server/signaling/turn-credentials.ts';
import type { IceServer } from '../shared/consult/signaling-messages.ts';
import { startMediaStack, type MediaStack } from './support/media-stack.ts';
import { launchMediaChromium } from './support/media-browser.ts';
import { serveMediaTestPage, type MediaTestPageServer } from './support/media-test-page.ts';

let stack: MediaStack;
let browser: Browser;
let pageServer: MediaTestPageServer;
let page: Page;

before(async () => {
  stack = await startMediaStack();
  browser = await launchMediaChromium();
  pageServer = await serveMediaTestPage();
  page = await browser.newPage();
  await page.goto(pageServer.url);
});

after(async () => {
  await browser?.close();
  await pageServer?.close();
  await stack?.stop();
});

/** Gathers ICE candidates with only this TURN server allowed; returns their types and any TURN error codes. */
function gatherRelay(server: IceServer): Promise<{ types: string[]; errors: number[] }> {
  return page.evaluate(async (iceServer) => {
    const pc = new RTCPeerConnection({ iceServers: [iceServer], iceTransportPolicy: 'relay' });
    const types: string[] = [];
    const errors: number[] = [];
    pc.addEventListener('icecandidate', (event) => {
      if (event.candidate?.type) types.push(event.candidate.type);
    });
    pc.addEventListener('icecandidateerror', (event) => errors.push((event as RTCPeerConnectionIceErrorEvent).errorCode));
    const done = new Promise<void>((resolve) =>
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      }),
    );
    pc.createDataChannel('probe');
    await pc.setLocalDescription(await pc.createOffer());
    // Chromium's TURN retries end gathering in seconds; a minute without it fails the test instead of holding it.
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('ICE gathering did not complete in 60 s')), 60_000))]);
    pc.close();
    return { types, errors };
  }, server);
}

test('the credential is the TURN REST scheme: "<expiry>:<user>" and base64(HMAC-SHA1(secret, username)) (checked with openssl)', () => {
  const now = new Date('2026-01-02T03:04:05Z');
  const server = turnCredentials({ urls: ['turn:192.0.2.1:3478?transport=udp'], secret: 'the-shared-secret', ttlSeconds: 300 }, 'participant-1', now);
  const expiry = Math.floor(now.getTime() / 1000) + 300;
  assert.equal(server.username, `${expiry}:participant-1`);
  const openssl = execFileSync('openssl', ['dgst', '-sha1', '-hmac', 'the-shared-secret', '-binary'], { input: server.username });
  assert.equal(server.credential, openssl.toString('base64'));
  assert.deepEqual(server.urls, ['turn:192.0.2.1:3478?transport=udp']);
  assert.throws(() => turnCredentials({ urls: ['turn:x'], secret: 's', ttlSeconds: 60 }, 'Jane Doe', now), /opaque id/);
  assert.throws(() => turnCredentials({ urls: ['turn:x'], secret: '', ttlSeconds: 60 }, 'participant-1', now));
});

test('coturn relays for an issued credential and for nothing else (another secret, expired, forged expiry)', async () => {
  const settings = { urls: stack.turnUrls, secret: stack.turnSecret, ttlSeconds: 600 };
  const good = await gatherRelay(turnCredentials(settings, 'participant-good', new Date()));
  assert.ok(good.types.includes('relay'), `a relay candidate with the issued credential (${JSON.stringify(good)})`);

  const otherSecret = await gatherRelay(turnCredentials({ ...settings, secret: 'another-secret' }, 'participant-bad', new Date()));
  assert.deepEqual(otherSecret.types, [], 'no relay with a credential made with another secret');
  assert.ok(otherSecret.errors.includes(401), `coturn answered 401 (${JSON.stringify(otherSecret.errors)})`);

  const expired = await gatherRelay(turnCredentials(settings, 'participant-old', new Date(Date.now() - 3600_000)));
  assert.deepEqual(expired.types, [], 'no relay with an expired credential');

  const issued = turnCredentials(settings, 'participant-forge', new Date(Date.now() - 3600_000));
  const forged = { ...issued, username: issued.username!.replace(/^\d+/, String(Math.floor(Date.now() / 1000) + 3600)) };
  const forgedResult = await gatherRelay(forged);
  assert.deepEqual(forgedResult.types, [], 'no relay when the expiry is changed without the secret');
});
