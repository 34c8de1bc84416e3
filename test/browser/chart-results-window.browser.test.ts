/**
 * A patient with a long observation history, in real Chromium against a real
 * encrypted cache through the app's handler registry: the banner shows the
 * code status recorded before 250 newer results, the heart-rate tile shows
 * the newest usable reading (not a newer one entered in error), and the
 * Results tab reads the history only when it is shown (its read entries
 * written then),
 * says how much of it it shows, and leaves voided readings out of the
 * flowsheet. The page's clock is fixed (an injected clock, not a sleep).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CacheHolder } from '../support/cache-holder';
import { inspectCache } from '../support/cache-inspect';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { importBundle } from '../../electron/services/bundle-import';
import { CHART_ITEMS_PER_TYPE } from '../../electron/services/patient-records';
import { MAX_AUDIT_ENTITIES } from '../../electron/services/audit-chain';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { OBSERVATIONS, PATIENT, longHistoryBundle } from '../support/long-history-patient';
import { bindClinician, launchChromium, screenshot, serveRenderer, type RendererServer } from './harness';

const NOW = new Date('2026-12-01T12:00:00Z');
const keychain = testKeychain();
const dir = scratchDir('chart-results-window');
let browser: Browser;
let server: RendererServer;
const cache = new CacheHolder();

before(async () => {
  await cache.open({ dataDir: join(dir.path, 'cache'), secrets: keychain, actor: 'dr.test', create: true });
  await importBundle(cache.session()!, longHistoryBundle());
  [browser, server] = await Promise.all([launchChromium(), serveRenderer()]);
});

after(async () => {
  await browser?.close();
  await server?.close();
  const session = cache.session();
  cache.close();
  await session?.close();
  dir.remove();
  await keychain.cleanup();
});

async function readEntries(): Promise<number> {
  const db = await inspectCache(cache.session()!, keychain);
  try {
    return db.prepare("SELECT count(*) FROM audit_log WHERE patient_id = ? AND action = 'R'").pluck().get(PATIENT) as number;
  } finally {
    db.close();
  }
}

async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-US' });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.name}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text().slice(0, 200)}`));
  await page.clock.setFixedTime(NOW);
  await bindClinician(page, createHandlerRegistry(cache), server.origin);
  await page.goto(`${server.origin}/index.html`);
  await page.locator('#patient-search').fill('latestobs');
  await page.getByTestId('patient-result').first().waitFor();
  await page.locator('#patient-search').press('Enter');
  await page.getByTestId('chart').waitFor();
  await page.getByRole('tab', { name: 'Summary' }).click();
  await page.getByTestId('vital').first().waitFor();
  return { page, problems };
}

test('the banner and the latest vitals come from the newest usable reading of each code, however long the history', async () => {
  const { page, problems } = await openPage();
  assert.match(await page.getByTestId('banner-code-status').innerText(), /Code status:\s*Do not resuscitate/);
  const heartRate = (await page.locator('[data-testid=vital][data-sign=heartRate]').innerText()).replace(/\s+/g, ' ');
  assert.match(heartRate, /72 \/min/, 'the newest usable heart rate');
  assert.doesNotMatch(heartRate, /250/, 'never the reading entered in error');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the Results tab reads the history when shown, says how much it shows, and leaves voided readings out of the flowsheet', async () => {
  const { page, problems } = await openPage();
  const beforeResults = await readEntries();
  await page.getByRole('tab', { name: 'Results' }).click();
  await page.getByTestId('lab-table').waitFor();
  const entries = Math.ceil((1 + CHART_ITEMS_PER_TYPE) / MAX_AUDIT_ENTITIES);
  assert.equal(await readEntries(), beforeResults + entries, 'the read entries of the history (the patient and each observation), written when the tab was shown');
  assert.equal(
    await page.getByTestId('results-window').innerText(),
    `Showing the newest ${CHART_ITEMS_PER_TYPE} of ${OBSERVATIONS} observations on this computer.`,
  );
  assert.ok((await page.getByTestId('lab-table').locator('tbody tr').count()) > 0, 'the glucose results are listed');
  const flowsheet = await page.getByTestId('vitals-flowsheet').innerText();
  assert.match(flowsheet, /72/);
  assert.doesNotMatch(flowsheet, /250/, 'a reading entered in error is not a value in the flowsheet');
  assert.doesNotMatch(flowsheet, /999/, 'nor a cancelled one');
  // Once per load of the chart: back to the summary and to the results again reads nothing more.
  const afterResults = await readEntries();
  await page.getByRole('tab', { name: 'Summary' }).click();
  await page.getByRole('tab', { name: 'Results' }).click();
  await page.getByTestId('lab-table').waitFor();
  assert.equal(await readEntries(), afterResults, 'the history is not read again for the same load of the chart');
  await screenshot(page, 'chart-results-window');
  assert.deepEqual(problems, []);
  await page.close();
});
