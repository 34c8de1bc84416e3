/**
 * The patient's join page as the backend serves it (GET /join, the built
 * renderer/join.html), in Chromium with a fake camera and microphone: a
 * clinician (the enrolled desktop, through window.clinician as the app)
 * starts a call for the critical patient's latest encounter and invites the
 * patient; the one-time link opens the page, which removes the fragment
 * (call id and token) from the address bar at once, explains what will
 * happen and reaches the call screen with its encryption state. A used link,
 * a token the backend does not know (what an expired link is to it: the
 * same refusal) and a link without a fragment each get the same plain
 * sentence and nothing more. No media server here: the full media path is
 * the media tests' (test/media/).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { launchMediaChromium } from '../support/media-browser';
import { expectAccessible } from './axe';
import { ROOT, screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const INVALID = 'This link is no longer valid. Ask your clinician for a new one.';
const keychain = testKeychain();
const dir = scratchDir('join-page');
let desktop: EnrolledDesktop;
let patientContext: BrowserContext;

/** A new call for the critical patient's latest encounter and a one-time patient link, through the clinician's contract calls. */
async function patientLink(): Promise<string> {
  // A string, not a function: the test runner's transpiler would add helpers the page does not have.
  return (await desktop.page.evaluate(`(async () => {
    const c = window.clinician;
    const value = (r) => { if (!r.ok) throw new Error(r.error.code); return r.value; };
    const list = value(await c.patients.worklist({}));
    const patient = list.patients.find((p) => p.name.includes('Vantongeren'));
    const encounters = value(await c.chart.encounters({ patientId: patient.id })).items;
    const start = (e) => (e.period && e.period.start) || '';
    const latest = [...encounters].sort((a, b) => start(b).localeCompare(start(a)))[0];
    const { callId } = value(await c.consult.start({ patientId: patient.id, encounterId: latest.id }));
    return value(await c.consult.invite({ callId, invitee: { kind: 'patient' } })).link;
  })()`)) as string;
}

async function openLink(link: string): Promise<Page> {
  const page = await patientContext.newPage();
  await page.goto(link);
  return page;
}

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain, { backendFlags: ['--bundles', CRITICAL_FILE], launch: () => launchMediaChromium() });
  patientContext = await desktop.browser.newContext({ viewport: { width: 1366, height: 768 } });
  // Two pages encoding, encrypting and decoding video on a shared 2-core machine: generous waits, never sleeps.
  patientContext.setDefaultTimeout(90_000);
  desktop.page.setDefaultTimeout(90_000);
});

after(async () => {
  await patientContext?.close();
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

test('a valid link opens the join page from the backend, removes the call id and token from the address bar and reaches the call screen', async () => {
  const link = await patientLink();
  const url = new URL(link);
  assert.equal(url.pathname, '/join');
  assert.match(url.hash, /^#call=[0-9a-f-]{36}&token=[A-Za-z0-9_-]{43}$/);
  const token = new URLSearchParams(url.hash.slice(1)).get('token')!;

  const page = await openLink(link);
  await page.getByTestId('join-intro').waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the fragment is gone from the address bar');
  const href = (await page.evaluate('location.href')) as string;
  assert.ok(!href.includes(token) && !href.includes('#'), 'no token left in the page URL');
  assert.match(await page.getByTestId('join-intro').innerText(), /camera and microphone/);
  await expectAccessible(page, 'consult-join-intro');
  await screenshot(page, 'consult-join-intro');

  await page.getByTestId('join-start').click();
  await page.getByTestId('join-call').waitFor();
  const badge = page.getByTestId('consult-encryption');
  await badge.waitFor();
  // Joined (the backend's welcome) or stopped: either way the call screen has settled.
  await page.locator('[data-phase="in-call"], [data-phase="failed"]').waitFor();
  // Whatever the stage, the badge says where encryption stands, in words.
  assert.match(await badge.innerText(), /end-to-end|No media was sent|could not start/i);
  await expectAccessible(page, 'consult-join-call');
  await screenshot(page, 'consult-join-call');
  // 200 % zoom of a 13-inch screen: nothing scrolls sideways, the controls stay reachable.
  await page.setViewportSize({ width: 683, height: 384 });
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `no sideways scroll at 683x384 (${sideways}px)`);
  await screenshot(page, 'consult-join-call-zoom');
  await page.close();
});

test('a link that was already used shows only "This link is no longer valid"', async () => {
  const link = await patientLink();
  const first = await openLink(link);
  await first.getByTestId('join-start').click();
  await first.getByTestId('consult-encryption').waitFor();
  // The first join spends the link: the backend's welcome (phase in-call) or a later failure says it was taken.
  await first.locator('[data-phase="in-call"], [data-phase="failed"], [data-phase="ended"], [data-testid="join-invalid"]').first().waitFor();
  assert.equal(await first.getByTestId('join-invalid').count(), 0, 'the first use of the link is accepted');
  const second = await openLink(link);
  await second.getByTestId('join-start').click();
  const invalid = second.getByTestId('join-invalid');
  await invalid.waitFor();
  assert.equal((await invalid.locator('[role=alert]').innerText()).trim(), INVALID);
  assert.equal(await second.getByTestId('consult-call').count(), 0, 'no call screen for a used link');
  await expectAccessible(second, 'consult-join-invalid');
  await screenshot(second, 'consult-join-invalid');
  await Promise.all([first.close(), second.close()]);
});

test('a token the backend does not know (an expired link is the same refusal) shows the same sentence and no detail', async () => {
  const link = new URL(await patientLink());
  const params = new URLSearchParams(link.hash.slice(1));
  params.set('token', 'A'.repeat(43));
  link.hash = params.toString();
  const page = await openLink(link.toString());
  assert.equal(new URL(page.url()).hash, '');
  await page.getByTestId('join-start').click();
  const invalid = page.getByTestId('join-invalid');
  await invalid.waitFor();
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(INVALID));
  assert.doesNotMatch(text, /expired|used|not invited|NOT_ALLOWED/i, 'the page does not say why');
  await page.close();
});

test('a link without a call id and token says so at once, without asking for the camera', async () => {
  const page = await openLink(`${desktop.backend.url}/join`);
  await page.getByTestId('join-invalid').waitFor();
  assert.equal(await page.getByTestId('join-start').count(), 0);
  const garbled = await openLink(`${desktop.backend.url}/join#call=nope&token=short`);
  await garbled.getByTestId('join-invalid').waitFor();
  assert.equal(new URL(garbled.url()).hash, '', 'even a garbled fragment is removed');
  await Promise.all([page.close(), garbled.close()]);
});
