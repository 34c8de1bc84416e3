/**
 * The renderer in real Chromium against the real services: search for an
 * imported Synthea patient, open the chart, see the right data, and find the
 * audit entries, all through window.clinician bound to the app's handler
 * registry, the real keychain and a real encrypted cache. Screenshots of each
 * screen go to test-results/screens/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CacheHolder } from '../support/cache-holder';
import { inspectCache } from '../support/cache-inspect';
import { createHandlerRegistry, type HandlerRegistry } from '../../electron/services/handler-registry';
import { importBundle } from '../../electron/services/bundle-import';
import { CHART_ITEMS_PER_TYPE } from '../../electron/services/patient-records';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { SYNTHEA_FILES, findLeaks, loadFixturePatients, phiNeedles } from '../support/synthea';
import { gate } from '../support/gate';
import { AppError } from '../../shared/app-error';
import { bindClinician, launchChromium, screenshot, serveRenderer, type RendererServer } from './harness';

const patients = loadFixturePatients();
const keychain = testKeychain();
const dir = scratchDir('browser');
const dataDir = join(dir.path, 'cache');
let browser: Browser;
let server: RendererServer;
const cache = new CacheHolder();

/** Closes the holder's session and waits until its worker has closed the file and released the folder. */
async function letGo(holder: CacheHolder): Promise<void> {
  const session = holder.session();
  holder.close();
  await session?.close();
}

before(async () => {
  await cache.open({ dataDir, secrets: keychain, actor: 'dr.test', create: true });
  const session = cache.session();
  assert.ok(session, 'the cache opened');
  for (const file of SYNTHEA_FILES) await importBundle(session, readFileSync(file));
  [browser, server] = await Promise.all([launchChromium(), serveRenderer()]);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await letGo(cache);
  dir.remove();
  await keychain.cleanup();
});

test('search for a Synthea patient, open the chart, see the right data and its audit entries', async () => {
  const p = patients[1]!;
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.name}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text().slice(0, 200)}`));
  await bindClinician(page, createHandlerRegistry(cache), server.origin);
  await page.goto(`${server.origin}/index.html`);

  await page.getByText('Encrypted cache open').waitFor();
  await screenshot(page, '01-start');
  assert.equal(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require), 'undefined', 'no Node in the page');

  // Keyboard only: "/" focuses search, type a name prefix, Enter opens the first match.
  await page.locator('body').click();
  await page.keyboard.press('/');
  await page.keyboard.type(p.given.slice(0, 4).toLowerCase());
  const result = page.getByTestId('patient-result');
  await result.first().waitFor();
  assert.equal(await result.count(), 1);
  assert.match(await result.first().innerText(), new RegExp(`${p.given} ${p.family}`));
  await screenshot(page, '02-search');
  await page.keyboard.press('Enter');

  const chart = page.getByTestId('chart');
  await chart.waitFor();
  assert.equal(await page.getByTestId('chart-name').innerText(), `${p.given} ${p.family}`);
  assert.equal(await page.getByTestId('chart-mrn').innerText(), `MRN ${p.mrn}`);
  const condition = p.bundle.entry.find((e) => e.resource.resourceType === 'Condition')!.resource as unknown as { code: { text: string } };
  // Shown without its SNOMED semantic tag ("Cough (finding)" reads "Cough").
  const problemText = await page.getByTestId('problems').innerText();
  assert.ok(problemText.includes(condition.code.text.replace(/\s*\([a-z /]+\)$/, '')), 'the problem is listed');
  assert.ok(!/\((disorder|finding)\)/.test(problemText), 'without semantic tags');
  const vaccine = p.bundle.entry.find((e) => e.resource.resourceType === 'Immunization')!.resource as unknown as { vaccineCode: { text: string } };
  assert.ok((await page.getByTestId('immunizations').innerText()).includes(vaccine.vaccineCode.text));
  assert.ok((await page.getByTestId('vital').count()) >= 3, 'latest vitals are shown');
  await screenshot(page, '03-chart');
  await page.getByRole('tab', { name: 'Encounters' }).click();
  const encounters = p.bundle.entry.filter((e) => e.resource.resourceType === 'Encounter').length;
  assert.match(await page.getByTestId('encounters').locator('h2').innerText(), new RegExp(`${encounters}$`));
  // The timeline, read when the tab was shown: the newest of them.
  await page.getByTestId('encounter-timeline').waitFor();
  assert.equal(await page.getByTestId('encounter').count(), Math.min(encounters, CHART_ITEMS_PER_TYPE));
  await page.getByRole('tab', { name: 'Access' }).click();
  await page.getByTestId('access-entry').first().waitFor();
  assert.match(await page.getByTestId('access-log').innerText(), /dr\.test\s+Opened chart\s+Succeeded/);

  // The audit log holds the search and the chart read for this patient.
  const db = await inspectCache(cache.session()!, keychain);
  const entries = db
    .prepare('SELECT action, subtype, actor, outcome FROM audit_log WHERE patient_id = ? AND action IN (\'E\', \'R\') ORDER BY seq')
    .all(p.id) as Array<{ action: string; subtype: string; actor: string; outcome: string }>;
  assert.ok(entries.some((e) => e.action === 'E' && e.subtype === 'search-type'), 'the search is audited');
  assert.ok(entries.some((e) => e.action === 'R' && e.subtype === 'read' && e.actor === 'dr.test' && e.outcome === '0'), 'the chart read is audited');

  // Escape closes the chart and its data leaves the page (the home worklist may still list the patient by name and MRN).
  await page.keyboard.press('Escape');
  await chart.waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('patient-banner').count(), 0);
  assert.equal(await page.getByTestId('vital').count(), 0);
  assert.equal(await page.getByText(condition.code.text.replace(/\s*\([a-z /]+\)$/, '')).count(), 0, 'no clinical data of the chart remains');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the Access tab shows the log as it stands when chosen, never the copy read when the chart opened', async () => {
  const p = patients[2]!;
  const registry = createHandlerRegistry(cache);
  let hold: ReturnType<typeof gate> | null = null;
  let refuse = false;
  const held: typeof registry = {
    ...registry,
    'audit.forPatient': async (input, caller) => {
      if (refuse) throw new AppError('STORE_FAILED', 'The patient cache stopped working.');
      const g = hold;
      if (g) {
        g.arrive();
        await g.opened;
      }
      return registry['audit.forPatient'](input, caller);
    },
  };
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await bindClinician(page, held, server.origin);
  await page.goto(`${server.origin}/index.html`);
  await page.locator('#patient-search').fill(p.given.slice(0, 4).toLowerCase());
  await page.getByTestId('patient-result').first().waitFor();
  await page.locator('#patient-search').press('Enter');
  await page.getByTestId('chart-name').waitFor();
  const reads = () => page.evaluate(async (id) => {
    const c = (window as unknown as { clinician: { chart: { open(i: unknown): Promise<{ ok: boolean }> } } }).clinician;
    return (await c.chart.open({ patientId: id })).ok;
  }, p.id);
  // A second read of this chart after it opened (as another window of the same chart would make): audited.
  assert.equal(await reads(), true);

  hold = gate();
  await page.getByRole('tab', { name: 'Access' }).click();
  await hold.reached;
  assert.equal(await page.getByTestId('access-entry').count(), 0, 'no entries shown while the log is being read');
  assert.match(await page.getByTestId('access-log').innerText(), /Reading the access log/);
  hold.open();
  hold = null;
  await page.getByTestId('access-entry').first().waitFor();
  const opened = (await page.getByTestId('access-log').innerText()).match(/Opened chart/g) ?? [];
  assert.equal(opened.length, 2, 'both reads of the chart are listed');

  // A log that cannot be read is said, and no entry of the earlier read stays on screen.
  refuse = true;
  await page.getByRole('tab', { name: 'Summary' }).click();
  await page.getByRole('tab', { name: 'Access' }).click();
  await page.getByTestId('access-log').getByRole('alert').waitFor();
  assert.equal(await page.getByTestId('access-entry').count(), 0);
  await page.close();
});

/** The registry with a late workspace.get: read at once, answered when the test opens the gate (as from a busy worker). */
function lateWorkspace(registry: HandlerRegistry) {
  const hold = gate();
  const late: HandlerRegistry = {
    ...registry,
    'workspace.get': async (input, caller) => {
      const answer = await registry['workspace.get'](input, caller);
      hold.arrive();
      await hold.opened;
      return answer;
    },
  };
  return { hold, registry: late };
}

test('a chart the clinician opens before the remembered one is read stays open, and the search is not disturbed by the late answer', async () => {
  const [remembered, chosen] = [patients[0]!, patients[2]!];
  const registry = createHandlerRegistry(cache);
  // Where the clinician was last time: another patient's chart, in the dark theme (seen when the late answer lands).
  const setup = await browser.newPage();
  await bindClinician(setup, registry, server.origin);
  await setup.goto(`${server.origin}/index.html`);
  assert.equal(await setup.evaluate(async (id) => {
    const c = (window as unknown as { clinician: { workspace: { set(i: unknown): Promise<{ ok: boolean }> } } }).clinician;
    return (await c.workspace.set({ openPatientId: id, tab: 'summary', theme: 'dark' })).ok;
  }, remembered.id), true);
  await setup.close();

  // The search answers while the remembered state is on its way, and keeps its results when that answer lands.
  const first = lateWorkspace(registry);
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await bindClinician(page, first.registry, server.origin);
  await page.goto(`${server.origin}/index.html`);
  await first.hold.reached;
  await page.locator('#patient-search').fill(remembered.given.slice(0, 4).toLowerCase());
  await page.getByTestId('patient-result').first().waitFor();
  first.hold.open();
  // Rendered once the answer was handled (the theme is set at once, the chart with React's next render).
  await page.locator('main[data-restored="true"]').waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'the remembered theme arrived');
  assert.equal(await page.getByTestId('patient-result').first().isVisible(), true, 'the results stay open');
  assert.ok((await page.locator('#patient-search').inputValue()) === remembered.given.slice(0, 4).toLowerCase(), 'what was typed stays');
  await page.keyboard.press('Escape');
  await page.close();

  // Opened by the clinician before the answer: that chart stays, the remembered one does not replace it.
  const again = lateWorkspace(registry);
  const second = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await bindClinician(second, again.registry, server.origin);
  await second.goto(`${server.origin}/index.html`);
  await again.hold.reached;
  await second.locator('#patient-search').fill(chosen.given.slice(0, 4).toLowerCase());
  await second.getByTestId('patient-result').first().waitFor();
  await second.locator('#patient-search').press('Enter');
  await second.getByTestId('chart-name').waitFor();
  again.hold.open();
  await second.locator('main[data-restored="true"]').waitFor();
  assert.equal(await second.evaluate(() => document.documentElement.dataset.theme), 'dark', 'the remembered theme arrived');
  // Compared without printing names into the test output.
  assert.ok((await second.getByTestId('chart-name').innerText()) === `${chosen.given} ${chosen.family}`, 'the chart the clinician chose, not the remembered one');
  await second.evaluate(async () => {
    const c = (window as unknown as { clinician: { workspace: { set(i: unknown): Promise<unknown> } } }).clinician;
    await c.workspace.set({ openPatientId: null, tab: null, theme: 'system' });
  });
  await second.close();
});

test('a chart closed, then a search typed before the worklist answers: the worklist coming in leaves the focus and the results in the search', async () => {
  const [first, next] = [patients[0]!, patients[2]!];
  const registry = createHandlerRegistry(cache);
  let hold: ReturnType<typeof gate> | null = null;
  const late: HandlerRegistry = {
    ...registry,
    'patients.worklist': async (input, caller) => {
      const answer = await registry['patients.worklist'](input, caller);
      const held = hold;
      if (held) {
        held.arrive();
        await held.opened;
      }
      return answer;
    },
  };
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await bindClinician(page, late, server.origin);
  await page.goto(`${server.origin}/index.html`);
  await page.getByTestId('worklist-row').first().waitFor();
  await page.locator('#patient-search').fill(first.given.slice(0, 4).toLowerCase());
  await page.getByTestId('patient-result').first().waitFor();
  await page.locator('#patient-search').press('Enter');
  await page.getByTestId('chart').waitFor();

  // Esc closes the chart; the worklist's answer is held while the clinician goes straight to the search.
  const worklist = gate();
  hold = worklist;
  await page.keyboard.press('Escape');
  await page.getByTestId('chart').waitFor({ state: 'detached' });
  await worklist.reached;
  const typed = next.given.slice(0, 4).toLowerCase();
  await page.keyboard.press('Control+k');
  await page.keyboard.type(typed);
  await page.getByTestId('patient-result').first().waitFor();
  hold = null;
  worklist.open();
  await page.getByTestId('worklist-row').first().waitFor();
  // Rendered and its effects run: React runs them at the latest in a task after the rows' frame; two frames later they have.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(null)))));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'patient-search', 'the focus stays in the search');
  assert.equal(await page.getByTestId('patient-result').first().isVisible(), true, 'the results stay open');
  assert.ok((await page.locator('#patient-search').inputValue()) === typed, 'what was typed stays');
  await page.keyboard.press('Escape');
  await page.close();
});

test('the page cannot reach the registry from another origin', async () => {
  const page = await browser.newPage();
  await bindClinician(page, createHandlerRegistry(cache), 'http://localhost:1');
  await page.goto(`${server.origin}/index.html`);
  await page.getByTestId('cache-problem').waitFor();
  assert.match(await page.getByTestId('cache-problem').innerText(), /not allowed/);
  await page.close();
});

test('with the cache key missing from the keychain, the page says why and shows no patient data', async () => {
  // One writer per folder: the app's own holder lets go first, so the keychain is what fails.
  await letGo(cache);
  const other = new CacheHolder();
  await other.open({ dataDir, secrets: createOsSecretStore(`${keychain.service}.elsewhere`), actor: 'dr.test', create: true });
  const page = await browser.newPage({ viewport: { width: 1366, height: 700 } });
  await bindClinician(page, createHandlerRegistry(other), server.origin);
  await page.goto(`${server.origin}/index.html`);
  const problem = page.getByTestId('cache-problem');
  await problem.waitFor();
  assert.match(await problem.innerText(), /keychain has no key for the patient cache/);
  assert.equal(await page.locator('#patient-search').count(), 0);
  assert.deepEqual(findLeaks(Buffer.from(await page.content()), phiNeedles(patients)), []);
  await screenshot(page, '04-cache-unavailable');
  await page.close();
});
