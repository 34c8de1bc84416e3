/**
 * Every screen of the app, in Chromium at 1366x768 against the real
 * services (enrolled desktop: real backend, keychain, cache, virtual
 * passkey): first run, worklist, search results, each chart tab, each
 * dialog, the lock screen and the cache-unavailable screen. On each: axe-core
 * finds no serious or critical violation, the page has an h1 and a main
 * landmark, nothing scrolls sideways, and a viewport screenshot named
 * shell-… is saved. Also: the worklist and a chart in the dark theme, the
 * first-run screen never says "Locked" while the lock screen does, and after
 * a lock and unlock the clinician is back on the same chart and tab.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { CHART_TABS } from '../../shared/contract';
import { CacheHolder } from '../support/cache-holder';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { SYNTHEA_DIR, loadFixturePatients } from '../support/synthea';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { expectAccessible } from './axe';
import { ROOT, bindClinician, readsDone, screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const CRITICAL_NAME = 'Marguerite Vantongeren';
const patients = loadFixturePatients();
const keychain = testKeychain();
const dir = scratchDir('shell-screens');
let desktop: EnrolledDesktop;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain, { backendFlags: ['--bundles', SYNTHEA_DIR, '--bundles', CRITICAL_FILE] });
  page = desktop.page;
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

/** The checks every screen passes: axe, an h1, a main landmark, no sideways scroll; then its screenshot. */
async function checkScreen(p: Page, name: string): Promise<void> {
  await expectAccessible(p, name);
  assert.ok((await p.locator('h1').count()) >= 1, `${name}: has an h1`);
  assert.ok((await p.locator('main, [role=main]').count()) >= 1, `${name}: has a main landmark`);
  const sideways = await p.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  assert.ok((sideways as number) <= 0, `${name}: no horizontal page scroll (${sideways}px)`);
  await screenshot(p, name);
}

async function worklistLoaded(p: Page): Promise<void> {
  await p.getByTestId('worklist-row').first().waitFor();
}

test('first run: says what to do (enroll), never "Locked"; accessible', async () => {
  const auth = new AuthService({
    dataDir: join(dir.path, 'first-run'),
    secrets: keychain,
    backend: new BackendClient(desktop.backend.url),
    rpId: 'localhost',
    origins: [desktop.renderer.origin],
  });
  await auth.start();
  const fresh = await desktop.browser.newPage({ viewport: { width: 1366, height: 768 } });
  try {
    await addVirtualAuthenticator(fresh, { prf: true });
    await bindClinician(fresh, createHandlerRegistry(auth, auth), desktop.renderer.origin);
    await fresh.goto(`${desktop.renderer.origin}/index.html`);
    await fresh.getByTestId('enroll-screen').waitFor();
    assert.equal(await fresh.locator('h1').innerText(), 'Set up this computer');
    assert.doesNotMatch(await fresh.locator('body').innerText(), /Locked/i, 'the first-run screen does not say Locked');
    assert.match(await fresh.getByTestId('enroll-screen').innerText(), /enrollment code/);
    await checkScreen(fresh, 'shell-01-first-run');
  } finally {
    await fresh.close();
    auth.lockNow('quit');
  }
});

test('the worklist is home: accessible, in light and dark', async () => {
  await worklistLoaded(page);
  assert.equal(await page.locator('h1').innerText(), 'My patients');
  assert.equal(await page.getByTestId('worklist-row').count(), patients.length + 1, 'every assigned patient, the critical one too');
  const critical = page.getByTestId('worklist-row').filter({ hasText: CRITICAL_NAME });
  assert.match(await critical.getByTestId('worklist-flags').innerText(), /\d+ critical/);
  await checkScreen(page, 'shell-02-worklist');

  await page.getByTestId('settings-button').click();
  await page.getByTestId('settings-dialog').waitFor();
  await checkScreen(page, 'shell-03-settings-dialog');
  await page.getByLabel('Dark').check();
  assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'dark');
  await page.keyboard.press('Escape');
  await page.getByTestId('settings-dialog').waitFor({ state: 'detached' });
  await checkScreen(page, 'shell-04-worklist-dark');
  // The setting is kept in the cache's workspace state.
  const kept = (await desktop.db()).prepare("SELECT value FROM workspace_state WHERE key = 'theme'").pluck().get();
  assert.equal(kept, 'dark');
});

test('search results and each chart tab: accessible (the chart also in the dark theme)', async () => {
  await page.locator('body').press('/');
  await page.keyboard.type('Vanton');
  await page.getByTestId('patient-result').first().waitFor();
  await checkScreen(page, 'shell-05-search-results-dark');
  await page.keyboard.press('Enter');
  await page.getByTestId('chart').waitFor();
  await page.getByTestId('panel-summary').locator('section').first().waitFor();
  await checkScreen(page, 'shell-06-chart-summary-dark');

  await page.getByTestId('settings-button').click();
  await page.getByLabel('Light').check();
  await page.keyboard.press('Escape');
  await page.getByTestId('settings-dialog').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'light');

  await page.locator('body').press('/');
  await page.keyboard.type('Vanton');
  await page.getByTestId('patient-result').first().waitFor();
  await checkScreen(page, 'shell-07-search-results');
  await page.keyboard.press('Escape');
  for (const tab of CHART_TABS) {
    await page.locator(`#chart-tab-${tab}`).click();
    const panel = page.getByTestId(`panel-${tab}`);
    await panel.waitFor();
    await panel.locator('section, form, p, table').first().waitFor();
    await readsDone(panel);
    await checkScreen(page, `shell-08-chart-${tab}`);
  }
});

test('each dialog is accessible: devices, waiting changes, settings (the conflict view: conflict-view.browser.test.ts)', async () => {
  const dialogs: Array<[string, () => Promise<void>, string]> = [
    ['devices-panel', () => page.getByRole('button', { name: 'Devices' }).click(), 'shell-09-devices-dialog'],
    ['waiting-dialog', () => page.getByTestId('sync-status-button').click(), 'shell-10-waiting-dialog'],
    ['settings-dialog', () => page.getByTestId('settings-button').click(), 'shell-11-settings-dialog'],
  ];
  for (const [testId, open, name] of dialogs) {
    await open();
    const dialog = page.getByTestId(testId);
    await dialog.waitFor();
    await dialog.locator('p, li, fieldset').first().waitFor();
    await checkScreen(page, name);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  }
});

test('lock screen says Locked; after unlock the clinician is back on the same chart and tab', async () => {
  await page.locator('#chart-tab-results').click();
  await page.getByTestId('panel-results').waitFor();
  await page.getByTestId('lock-button').click();
  await page.getByTestId('lock-screen').waitFor();
  assert.equal(await page.locator('h1').innerText(), 'Locked');
  assert.equal(await page.getByTestId('chart').count(), 0, 'no chart behind the lock screen');
  await checkScreen(page, 'shell-12-lock-screen');

  await page.getByRole('button', { name: 'Unlock with passkey' }).click();
  await page.getByTestId('chart').waitFor();
  assert.equal(await page.locator('.banner h1').innerText(), CRITICAL_NAME, 'the same patient');
  assert.equal(await page.locator('#chart-tab-results').getAttribute('aria-selected'), 'true', 'the same tab');
  await page.getByTestId('panel-results').waitFor();

  // Closing the chart is remembered too: after the next unlock, the worklist.
  await page.locator('#chart-tab-summary').click();
  await page.locator('body').press('Escape');
  await worklistLoaded(page);
  await page.getByTestId('lock-button').click();
  await page.getByTestId('lock-screen').waitFor();
  await page.getByRole('button', { name: 'Unlock with passkey' }).click();
  await worklistLoaded(page);
  assert.equal(await page.getByTestId('chart').count(), 0);
});

test('cache unavailable: says why, shows no patient data; accessible', async () => {
  const cacheDir = join(dir.path, 'unavailable');
  const first = new CacheHolder();
  await first.open({ dataDir: cacheDir, secrets: keychain, actor: 'dr.test', create: true });
  const firstSession = first.session();
  first.close();
  // Its worker gone and the folder free: what the other holder meets is the keychain without the key.
  await firstSession?.close();
  const other = new CacheHolder();
  await other.open({ dataDir: cacheDir, secrets: createOsSecretStore(`${keychain.service}.elsewhere`), actor: 'dr.test', create: true });
  const p = await desktop.browser.newPage({ viewport: { width: 1366, height: 768 } });
  try {
    await bindClinician(p, createHandlerRegistry(other), desktop.renderer.origin);
    await p.goto(`${desktop.renderer.origin}/index.html`);
    await p.getByTestId('cache-problem').waitFor();
    assert.equal(await p.locator('#patient-search').count(), 0);
    await checkScreen(p, 'shell-13-cache-unavailable');
  } finally {
    await p.close();
    const otherSession = other.session();
    other.close();
    await otherSession?.close();
  }
});
