/**
 * The desktop's consultation panel in Chromium (fake camera and microphone)
 * against the real services: the enrolled desktop (browser harness, real
 * backend process with Janus and coturn from test/support/media-stack.ts
 * inside the test network namespace) and the patient's join page the
 * backend serves. From the chart: Start consultation (a patient with no
 * encounter is told so; otherwise the most recent encounter is chosen), the
 * encryption badge from the first moment, Invite (a one-time link with its
 * expiry, shown once), the patient joining by the link, the same six-digit
 * code on both sides, "Codes match" turning both badges... the host's to
 * "code checked", Hang up with "End for everyone", "Codes differ" ending the
 * call with advice, and with the media server gone a call that fails in
 * words and never connects a media path. Axe on every screen; screenshots
 * consult-*.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { launchMediaChromium } from '../support/media-browser';
import { startMediaStack, type MediaStack } from '../support/media-stack';
import { expectAccessible } from './axe';
import { ROOT, screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
/** The critical patient's most recent encounter (2026-11-25T03:00Z, the newest of five). */
const LATEST_ENCOUNTER = 'crit-enc-0005';
const keychain = testKeychain();
const dir = scratchDir('consult-ui');
let stack: MediaStack;
let desktop: EnrolledDesktop;
let page: Page;
let patientContext: BrowserContext;

/** A synthetic patient with no encounter at all. */
function noEncounterBundle(): string {
  const file = join(dir.path, 'no-encounter.json');
  writeFileSync(
    file,
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:noenc-patient-0001',
          resource: {
            resourceType: 'Patient',
            id: 'noenc-patient-0001',
            meta: { tag: [{ system: 'urn:clinician-desktop:synthetic', code: 'synthetic', display: 'Synthetic test patient' }] },
            identifier: [{ system: 'urn:clinician-desktop:test-mrn', value: 'NOENC-0001' }],
            name: [{ use: 'official', family: 'Withoutvisit', given: ['Ingrid'] }],
            gender: 'female',
            birthDate: '1971-05-02',
          },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    }),
  );
  return file;
}

async function openChart(name: string): Promise<void> {
  if ((await page.getByTestId('chart').count()) > 0) {
    await page.getByRole('button', { name: 'Close chart (Esc)' }).click();
  }
  await page.getByTestId('worklist-row').filter({ hasText: name }).locator('.open-button').click();
  await page.getByTestId('chart').waitFor();
}

/** Records every RTCPeerConnection the page makes and the furthest state each reached (a string: the test runner's transpiler must not touch page code). */
async function spyOnPeerConnections(target: Page): Promise<void> {
  await target.evaluate(`(() => {
    if (window.__pcStates) return;
    window.__pcStates = [];
    const Original = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Original {
      constructor(...args) {
        super(...args);
        const record = { states: [this.connectionState] };
        window.__pcStates.push(record);
        this.addEventListener('connectionstatechange', () => record.states.push(this.connectionState));
      }
    };
  })()`);
}

async function connectedPeerConnections(target: Page): Promise<number> {
  return (await target.evaluate(`window.__pcStates.filter((r) => r.states.includes('connected')).length`)) as number;
}

async function startConsultation(): Promise<void> {
  await page.getByTestId('consult-start').click();
  await page.getByTestId('consult-start-dialog').waitFor();
  await page.getByTestId('consult-start-confirm').click();
  await page.getByTestId('consult-panel').waitFor();
}

async function inviteLink(): Promise<string> {
  await page.getByTestId('consult-invite').click();
  await page.getByTestId('consult-invite-patient').check();
  await page.getByTestId('consult-invite-submit').click();
  const link = await page.getByTestId('consult-invite-link').inputValue();
  return link;
}

async function patientJoins(link: string): Promise<Page> {
  const patient = await patientContext.newPage();
  await patient.goto(link);
  await patient.getByTestId('join-start').click();
  await patient.getByTestId('join-call').waitFor();
  return patient;
}

const badge = (p: Page) => p.getByTestId('consult-encryption');

before(async () => {
  stack = await startMediaStack();
  desktop = await enrolledDesktop(dir.path, keychain, {
    backendFlags: [
      '--bundles', CRITICAL_FILE,
      '--bundles', noEncounterBundle(),
      '--janus-url', stack.janusUrl,
      '--janus-secret-file', stack.janusSecretFile,
      ...stack.turnUrls.flatMap((u) => ['--turn-url', u]),
      '--turn-secret-file', stack.turnSecretFile,
    ],
    launch: () => launchMediaChromium(),
  });
  page = desktop.page;
  patientContext = await desktop.browser.newContext({ viewport: { width: 1366, height: 768 } });
  // Two pages encoding, encrypting and decoding video on a shared 2-core machine: generous waits, never sleeps.
  patientContext.setDefaultTimeout(90_000);
  desktop.page.setDefaultTimeout(90_000);
  await page.getByTestId('worklist-row').first().waitFor();
});

after(async () => {
  await patientContext?.close();
  await desktop?.close();
  await stack?.stop();
  dir.remove();
  await keychain.cleanup();
});

test('Start consultation for a patient without an encounter says so and starts nothing', async () => {
  await openChart('Ingrid Withoutvisit');
  await page.getByTestId('consult-start').click();
  const message = page.getByTestId('consult-no-encounter');
  await message.waitFor();
  assert.match(await message.innerText(), /no encounter on record/);
  assert.equal(await page.getByTestId('consult-start-confirm').count(), 0, 'no Start without an encounter');
  await expectAccessible(page, 'consult-no-encounter');
  await screenshot(page, 'consult-no-encounter');
  await page.keyboard.press('Escape');
  await page.getByTestId('consult-start-dialog').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('consult-panel').count(), 0);
});

test('Start consultation chooses the most recent encounter and the panel shows the encryption state from the first moment', async () => {
  await openChart('Marguerite Vantongeren');
  await page.getByTestId('consult-start').click();
  await page.getByTestId('consult-start-dialog').waitFor();
  assert.equal(await page.getByTestId('consult-encounter').inputValue(), LATEST_ENCOUNTER);
  // A choice lasts one opening: another encounter picked, then Cancel, and the dialog opens again on the most recent.
  const offered = await page.getByTestId('consult-encounter').locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(offered.length > 1 && offered.at(-1) !== LATEST_ENCOUNTER);
  await page.getByTestId('consult-encounter').selectOption(offered.at(-1)!);
  await page.getByTestId('consult-start-dialog').getByRole('button', { name: 'Cancel' }).click();
  await page.getByTestId('consult-start-dialog').waitFor({ state: 'detached' });
  await page.getByTestId('consult-start').click();
  assert.equal(await page.getByTestId('consult-encounter').inputValue(), LATEST_ENCOUNTER, 'the earlier choice is not kept');
  await expectAccessible(page, 'consult-start-dialog');
  await screenshot(page, 'consult-start-dialog');
  await page.getByTestId('consult-start-confirm').click();
  await page.getByTestId('consult-panel').waitFor();
  // The badge is there at once, before any media exists.
  assert.ok(await badge(page).isVisible());
  assert.match(await badge(page).innerText(), /end-to-end/i);
  // Alone in the call: encrypted media is ready, no code yet (a code needs two keys).
  await page.locator('[data-testid=consult-call][data-phase="in-call"]').waitFor();
  assert.match(await badge(page).innerText(), /End-to-end encryption ready: waiting for someone to join/);
  // The sticky banner carries the call's state instead of Start (one consultation at a time), on screen however far the chart scrolls.
  assert.equal(await page.getByTestId('consult-start').count(), 0, 'one consultation at a time');
  await page.getByTestId('consult-banner-badge').filter({ hasText: 'Call: encrypted, waiting for others' }).waitFor();
  await expectAccessible(page, 'consult-panel-waiting');
  await screenshot(page, 'consult-panel-waiting');
});

test('Invite the patient: a one-time link with its expiry, shown once', async () => {
  const link = await inviteLink();
  assert.match(link, /\/join#call=[0-9a-f-]{36}&token=[A-Za-z0-9_-]{43}$/);
  assert.match(await page.getByTestId('consult-invite-expiry').innerText(), /Valid until \d{1,2}:\d{2}.*one use only.*shown only once/s);
  await expectAccessible(page, 'consult-invite-link');
  await screenshot(page, 'consult-invite-link');
  await page.getByTestId('consult-invite-dialog').getByRole('button', { name: 'Done' }).click();
  // Opened again, the dialog does not have the link any more.
  await page.getByTestId('consult-invite').click();
  await page.getByTestId('consult-invite-submit').waitFor();
  assert.equal(await page.getByTestId('consult-invite-link').count(), 0, 'the link is not shown a second time');
  assert.ok(!(await page.locator('body').innerText()).includes(new URL(link).hash.slice(1)), 'the link is nowhere on the page');
  await page.keyboard.press('Escape');
  await page.getByTestId('consult-invite-dialog').waitFor({ state: 'detached' });
});

let patient: Page;

test('the patient joins by the link: both sides show the same code, the clinician confirms it and the badge says "code checked"', async () => {
  const link = await inviteLink();
  await page.getByTestId('consult-invite-dialog').getByRole('button', { name: 'Done' }).click();
  patient = await patientJoins(link);
  await page.getByTestId('consult-code-digits').waitFor();
  await patient.getByTestId('consult-code-digits').waitFor();
  const hostCode = await page.getByTestId('consult-code-digits').innerText();
  assert.match(hostCode, /^\d{3} \d{3}$/, 'six digits, grouped');
  assert.equal(await patient.getByTestId('consult-code-digits').innerText(), hostCode, 'the same code on both sides');
  assert.match(await badge(page).innerText(), /End-to-end encrypted, code not yet checked/);
  // The patient appears as a tile with their role; the clinician's device is vouched for on the patient's side.
  await page.locator('[data-testid=consult-tile][data-participant-role=patient]').waitFor();
  await patient.locator('[data-testid=consult-tile][data-participant-role=host]').getByTestId('consult-verified-device').waitFor();
  assert.equal(await patient.getByTestId('codes-match').count(), 0, 'the patient reads the code; the clinician confirms it');
  await expectAccessible(page, 'consult-live-host');
  await expectAccessible(patient, 'consult-live-patient');
  await page.getByTestId('codes-match').click();
  await page.locator('[data-testid=consult-encryption][data-encryption="e2ee-verified"]').waitFor();
  assert.match(await badge(page).innerText(), /End-to-end encrypted, code checked/);
  await page.getByTestId('consult-banner-badge').filter({ hasText: 'Call: encrypted, code checked' }).waitFor();
  // The patient's page says who confirmed which code, on its own line (the patient compares the digits aloud and can leave if they differ);
  // a relayed confirmation never turns the patient's own badge to "checked".
  await patient.getByTestId('consult-confirmation').filter({ hasText: `Dr Kim Lee confirmed the code ${hostCode}` }).waitFor();
  assert.match(await badge(patient).innerText(), /End-to-end encrypted, code not yet checked/);
  await screenshot(page, 'consult-live-host');
  await screenshot(patient, 'consult-live-patient');
  // 200 % zoom: nothing scrolls sideways and Hang up is reachable.
  await page.setViewportSize({ width: 683, height: 384 });
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `no sideways scroll at 683x384 (${sideways}px)`);
  await page.getByTestId('consult-hang-up').focus();
  assert.ok(await page.getByTestId('consult-hang-up').isVisible());
  // Scrolled down the chart, the call's state is still on screen in the banner.
  await page.locator('.main-pane').evaluate((el) => el.scrollTo(0, el.scrollHeight));
  const pill = await page.getByTestId('consult-banner-badge').boundingBox();
  assert.ok(pill && pill.y >= 0 && pill.y + pill.height <= 384, 'the call state stays on screen at the bottom of the chart');
  await screenshot(page, 'consult-live-host-zoom');
  await page.setViewportSize({ width: 1366, height: 768 });
});

test('Hang up as host asks, and "End for everyone" ends the call on the patient\'s side too', async () => {
  await page.getByTestId('consult-hang-up').click();
  await page.getByTestId('consult-hang-up-dialog').waitFor();
  await expectAccessible(page, 'consult-hang-up-dialog');
  await screenshot(page, 'consult-hang-up-dialog');
  await page.getByTestId('consult-end-for-everyone').click();
  await page.locator('[data-testid=consult-call][data-phase="ended"]').waitFor();
  assert.equal(await page.getByTestId('consult-ended-line').innerText(), 'You ended the consultation for everyone.');
  assert.match(await badge(page).innerText(), /The call has ended\. Only end-to-end encrypted media was ever sent\./);
  await patient.locator('[data-testid=consult-call][data-phase="ended"]').waitFor();
  assert.match(await patient.getByTestId('consult-over').innerText(), /The clinician ended the consultation/);
  await screenshot(patient, 'consult-ended-patient');
  await patient.close();
  await page.getByTestId('consult-close').click();
  await page.getByTestId('consult-panel').waitFor({ state: 'detached' });
  assert.ok(await page.getByTestId('consult-start').isEnabled());
});

test('"Codes differ" ends the call for everyone and says what to do', async () => {
  await startConsultation();
  const link = await inviteLink();
  await page.getByTestId('consult-invite-dialog').getByRole('button', { name: 'Done' }).click();
  const other = await patientJoins(link);
  await page.getByTestId('codes-differ').click();
  const advice = page.getByTestId('consult-codes-differ');
  await advice.waitFor();
  assert.match(await advice.innerText(), /did not match.*ended.*IT security/s);
  // Over for the patient too (ended by the host, or its connection closed with the call).
  await other.locator('[data-testid=consult-call][data-phase="ended"], [data-testid=consult-call][data-phase="failed"]').waitFor();
  await screenshot(other, 'consult-codes-differ-patient');
  await expectAccessible(page, 'consult-codes-differ');
  await screenshot(page, 'consult-codes-differ');
  await other.close();
  await page.getByTestId('consult-close').click();
});

test('without a media server the call fails in words and no media path is ever connected', async () => {
  // Janus only: with coturn stopped too, the desktop's offer would first wait out Chromium's TURN allocation
  // retries (about 40 s of ICE gathering) before the media server's refusal could even be asked for.
  await stack.stopJanus();
  await spyOnPeerConnections(page);
  await startConsultation();
  await page.locator('[data-testid=consult-call][data-phase="failed"]').waitFor();
  assert.equal(await badge(page).getAttribute('role'), 'alert');
  assert.match(await badge(page).innerText(), /The call could not start: the media server is not available\. No media was sent\./);
  assert.equal(await connectedPeerConnections(page), 0, 'no RTCPeerConnection ever connected: nothing was sent');
  await expectAccessible(page, 'consult-no-media-server');
  await screenshot(page, 'consult-no-media-server');
  await page.getByTestId('consult-close').click();
});
