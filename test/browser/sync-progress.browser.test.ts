/**
 * A long sync's progress in the status bar, in Chromium against the real
 * services (enrolled desktop, real backend process): another device adds
 * 2,500 observations for the clinician's patient, so the next pull run is
 * two pages; while its second page is held (at the backend client, events
 * only) the bar shows how far it is, in the short form at 1366x768 and in
 * the smallest one ("↓ 2,000", "↓ 80%") at 200 % zoom of a 13-inch screen
 * (683x384), the bar still one line and nothing scrolling sideways; the
 * whole sentence is its tooltip and what a screen reader hears; the chart
 * of the patient opens meanwhile; once the run ends nothing is shown. The backend process on this branch sends no
 * estimate yet (counts only: "Downloading: 2,000 records"); with one
 * (branch i14-backend) the short form is "Downloading 80%, ... left".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BackendClient } from '../../electron/services/backend-client';
import { openCacheSession } from '../../electron/services/cache-session';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import type { FhirResource } from '../../shared/contract';
import { MAX_PUSH_CHANGES } from '../../shared/sync-api';
import { registerDeviceAt } from '../support/backend-db';
import { holdNextCall } from '../support/held-call';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { syntheticPatientBundle } from '../support/synthetic-bundles';
import { screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const PATIENT = 'progress-patient';
const ADDED = 2500;
const keychain = testKeychain();
const dir = scratchDir('sync-progress-browser');
let desktop: EnrolledDesktop;
let client: BackendClient;
let page: Page;

before(async () => {
  const bundles = join(dir.path, 'bundles');
  mkdirSync(bundles);
  writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId: PATIENT, observations: 2 })));
  desktop = await enrolledDesktop(join(dir.path, 'desktop'), keychain, {
    backendFlags: ['--bundles', bundles],
    registry: (auth, backend) => {
      client = backend;
      return createHandlerRegistry(auth, auth);
    },
  });
  page = desktop.page;
  await page.getByTestId('worklist-row').first().waitFor();
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

/** The top bar's visible items on one line, none cut off, no sideways page scroll. */
async function barFits(what: string): Promise<void> {
  const boxes = await page.locator('.topbar > *').evaluateAll((els) =>
    els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0).map((r) => ({ top: r.top, bottom: r.bottom, right: r.right })),
  );
  const bar = (await page.getByTestId('topbar').boundingBox())!;
  const lineHeight = Math.max(...boxes.map((b) => b.bottom - b.top));
  assert.ok(bar.height <= lineHeight + 16, `${what}: the top bar is one line (${bar.height}px for ${lineHeight}px items)`);
  for (const b of boxes) assert.ok(b.right <= bar.x + bar.width + 0.5 && b.bottom <= bar.y + bar.height + 0.5, `${what}: every item inside the bar`);
  const progress = (await page.getByTestId('sync-progress').boundingBox())!;
  assert.ok(progress.x >= 0 && progress.x + progress.width <= bar.x + bar.width + 0.5, `${what}: the progress is on screen`);
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `${what}: no horizontal page scroll (${sideways}px)`);
}

test('a long sync shows how far it is in the status bar (1366x768 and 683x384), the chart opens meanwhile, and nothing once done', async () => {
  // Another device of the same clinician adds observations: the next pull run is two pages. The desktop's next pull is
  // held from now on, so no drain (the worker's idle wake-up) takes part of them before the run the test watches.
  const first = holdNextCall(client, 'pullAnswer');
  const other = await openCacheSession({ dataDir: join(dir.path, 'other'), secrets: keychain, actor: 'dr.kim', create: true });
  const token = await registerDeviceAt(desktop.backend, 'dr.kim', other);
  other.close();
  const pusher = new BackendClient(desktop.backend.url, 60_000);
  for (let from = 0; from < ADDED; from += MAX_PUSH_CHANGES) {
    const changes = Array.from({ length: Math.min(MAX_PUSH_CHANGES, ADDED - from) }, (_, i) => {
      const id = `progress-added-${from + i}`;
      const resource = { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${PATIENT}` }, valueQuantity: { value: 70, unit: '/min' } } as FhirResource;
      return { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource };
    });
    const { results } = await pusher.push(token, changes);
    assert.ok(results.every((r) => r.status === 'applied'));
  }

  // Hold the run's second page: the first is applied meanwhile, and the bar says so.
  desktop.auth.nudgeSync();
  await first.reached;
  first.restore();
  const second = holdNextCall(client, 'pullAnswer');
  first.release();
  await second.reached;
  try {
    const progress = page.getByTestId('sync-progress');
    await progress.waitFor();
    // The status is asked between slices too, so the bar may first show part of the page: wait for the whole first page.
    await page.locator('[data-testid="sync-progress"][title*=" 2,000 "]').waitFor();
    const short = /^Downloading: 2,000 records$|^Downloading \d{1,2}%, (less than a minute|about \d+ min) left$/;
    const whole = /^Downloading your patients: 1 patient, (2,000 records so far|2,000 of about 2,50\d records, (less than a minute|about \d+ min) left)$/;
    assert.match((await page.getByTestId('sync-progress-short').innerText()).trim(), short);
    assert.match((await progress.getAttribute('title')) ?? '', whole, 'the whole sentence as its tooltip');
    assert.match((await page.getByTestId('sync-status').getByRole('status').textContent()) ?? '', new RegExp(`Downloading your patients: 1 patient, 2,000 `), 'a screen reader hears it');
    await barFits('1366x768');
    await screenshot(page, 'sync-progress-1366');

    // The patient's chart, already synced, opens while the rest of the run waits.
    await page.getByTestId('worklist-row').filter({ hasText: 'Testfamily' }).locator('.open-button').click();
    await page.getByTestId('chart').getByText('Synthetic Testfamily', { exact: false }).first().waitFor();
    await progress.waitFor();

    await page.setViewportSize({ width: 683, height: 384 });
    await barFits('683x384');
    assert.match((await page.getByTestId('sync-progress-tiny').innerText()).trim(), /^\u2193 (2,000|\d{1,2}%)$/, 'the smallest form at 200 %');
    assert.equal(await page.getByTestId('sync-progress-short').isVisible(), false);
    await screenshot(page, 'sync-progress-683');
    await page.setViewportSize({ width: 1366, height: 768 });
  } finally {
    second.restore();
    second.release();
  }
  await page.getByTestId('sync-progress').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('sync-progress').count(), 0, 'nothing shown once the run is done');
});
