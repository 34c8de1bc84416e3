/**
 * What the chart shows, in real Chromium against a real encrypted cache with
 * the synthetic critical patient (test/fixtures/critical-patient.json)
 * imported next to the Synthea patients: the sticky banner (allergies with
 * criticality and reaction, code status), critical and abnormal values
 * flagged in text, times where several readings share a day, old readings
 * marked old, labs with their reference ranges, medications with their
 * dosage, encounters and audit actions in words, no SNOMED tags or raw codes
 * in the page, tabs by keyboard, Esc rules, no horizontal scroll at 1366x768
 * and 683x384, axe on every tab, and 1366x768 screenshots of every tab.
 * The page's clock is fixed (an injected clock, not a sleep) at an evening
 * of the fixture's admission day, and its time zone is UTC.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CacheHolder } from '../support/cache-holder';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { importBundle } from '../../electron/services/bundle-import';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { SYNTHEA_FILES } from '../support/synthea';
import { bindClinician, launchChromium, readsDone, ROOT, screenshot, serveRenderer, type RendererServer } from './harness';
import { expectAccessible } from './axe';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
/** The fixture's admission day, 18:00 UTC: the last readings were at 14:20. */
const NOW = new Date('2026-11-25T18:00:00Z');

const keychain = testKeychain();
const dir = scratchDir('chart-summary');
let browser: Browser;
let server: RendererServer;
const cache = new CacheHolder();

before(async () => {
  await cache.open({ dataDir: join(dir.path, 'cache'), secrets: keychain, actor: 'dr.test', create: true });
  const session = cache.session();
  assert.ok(session, 'the cache opened');
  for (const file of SYNTHEA_FILES) await importBundle(session, readFileSync(file));
  await importBundle(session, readFileSync(CRITICAL_FILE));
  [browser, server] = await Promise.all([launchChromium(), serveRenderer()]);
});

after(async () => {
  await browser?.close();
  await server?.close();
  cache.close();
  dir.remove();
  await keychain.cleanup();
});

async function openPage(viewport = { width: 1366, height: 768 }): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport, timezoneId: 'UTC', locale: 'en-US' });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.name}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text().slice(0, 200)}`));
  await page.clock.setFixedTime(NOW);
  await bindClinician(page, createHandlerRegistry(cache), server.origin);
  await page.goto(`${server.origin}/index.html`);
  await page.locator('#patient-search').waitFor();
  return { page, problems };
}

/** Search by name and open the chart with Enter, as a clinician does. */
async function openChart(page: Page, name = 'Vantongeren'): Promise<void> {
  await page.locator('#patient-search').fill(name.toLowerCase());
  await page.getByTestId('patient-result').first().waitFor();
  await page.locator('#patient-search').press('Enter');
  await page.getByTestId('chart').waitFor();
  // The app reopens a chart on the tab last used (workspace state): start each test from the summary.
  await page.getByRole('tab', { name: 'Summary' }).click();
  await page.getByTestId('vital').first().waitFor();
}

async function selectTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  const panel = page.getByTestId(`panel-${name.toLowerCase()}`);
  await panel.waitFor();
  // The Results, Encounters and Access tabs read their data when shown (their "Reading …" status renders with the
  // panel): wait for it, so no check runs on a loading text.
  await readsDone(panel);
}

async function noHorizontalScroll(page: Page, what: string): Promise<void> {
  const { scroll, client } = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })')) as { scroll: number; client: number };
  assert.ok(scroll <= client, `${what}: the page scrolls sideways (${scroll} > ${client})`);
}

test('summary: banner with allergies and code status, critical vitals flagged in text with their age, old values marked old, medications with dosage', async () => {
  const { page, problems } = await openPage();
  await openChart(page);

  assert.equal(await page.getByTestId('chart-name').innerText(), 'Marguerite Vantongeren');
  assert.equal(await page.getByTestId('chart-mrn').innerText(), 'MRN CRIT-000184');
  assert.equal(await page.getByTestId('chart-age').innerText(), '68 y');
  assert.equal(await page.getByTestId('chart-sex').innerText(), 'Female');
  const allergies = await page.getByTestId('banner-allergies').innerText();
  assert.match(allergies, /Penicillin \(high criticality: anaphylaxis, severe\)/);
  assert.match(allergies, /Latex \(low criticality: urticaria, mild\)/);
  assert.match(await page.getByTestId('banner-code-status').innerText(), /Code status:\s*Do not attempt resuscitation/);

  // The summary is the first tab, and the latest vitals are on the first screen.
  assert.equal(await page.getByRole('tab').first().innerText(), 'Summary');
  const vitals = page.getByTestId('vitals');
  const box = (await vitals.boundingBox())!;
  assert.ok(box.y < 768, 'the latest vitals start on the first screen');
  const tile = (sign: string) => page.locator(`[data-testid=vital][data-sign=${sign}]`);
  for (const [sign, value, flag] of [
    ['bp', '182/110 mmHg', 'critical-high'],
    ['heartRate', '131 /min', 'critical-high'],
    ['temperature', '39.4 °C', 'critical-high'],
    ['spo2', '86 %', 'critical-low'],
    ['respiratoryRate', '28 /min', 'critical-high'],
  ] as const) {
    assert.equal(await tile(sign).getAttribute('data-flag'), flag, `${sign} is flagged ${flag}`);
    const text = (await tile(sign).innerText()).replace(/\s+/g, ' ');
    assert.ok(text.includes(value), `${sign} shows ${value}: ${text}`);
    assert.match(text, /!! [HL]/, `${sign} carries the critical flag as text`);
    assert.match(text, /3 h ago/, `${sign} says how old it is`);
    assert.doesNotMatch(text, /\bold\b/, `${sign} from today is not marked old`);
  }
  // Weight, height and BMI were last taken in 2020: marked old, with the date and the age in words.
  for (const sign of ['weight', 'height', 'bmi']) {
    const text = await tile(sign).innerText();
    assert.match(text, /old · Jun 10, 2020/, `${sign} is marked old with its date`);
    assert.match(text, /6 years ago/);
  }
  assert.equal(await page.locator('[data-testid=vital] [data-testid=old-marker]').count(), 3);

  // Allergies with reactions and severity; medications with dose, route, frequency and the dosage text.
  const allergyTable = await page.getByTestId('allergy-table').innerText();
  assert.match(allergyTable, /Penicillin\s+Anaphylaxis\s+Severe\s+High/);
  const meds = page.getByTestId('medications');
  const medText = await meds.innerText();
  assert.match(medText, /Meropenem 1000 MG Injection/);
  assert.match(medText, /1 g · Intravenous · every 8 hours/);
  assert.match(medText, /“1 g intravenously every 8 hours”/);
  assert.match(medText, /500 mg · Oral · twice daily/);
  assert.match(medText, /650 mg · Oral · every 6 hours · as needed/);
  assert.match(await page.getByTestId('problems').innerText(), /Sepsis/);

  await noHorizontalScroll(page, 'summary at 1366x768');
  await expectAccessible(page, 'chart summary');
  await screenshot(page, 'chart-summary');
  assert.deepEqual(problems, []);
  await page.close();
});

test('results: flowsheet with times where readings share a day, critical values flagged, a sparkline with a text alternative, labs with reference ranges and flags', async () => {
  const { page, problems } = await openPage();
  await openChart(page);
  await selectTab(page, 'Results');

  // Four readings on the admission day: each column shows its time; the 2020 column is marked old.
  const heads = await page.getByTestId('flowsheet-time').allInnerTexts();
  assert.deepEqual(heads.slice(0, 4).map((h) => h.replace(/\s+/g, ' ').trim()), ['Nov 25, 2026 02:20 PM', 'Nov 25, 2026 10:15 AM', 'Nov 25, 2026 06:05 AM', 'Nov 25, 2026 02:10 AM']);
  assert.equal(heads[4]!.replace(/\s+/g, ' ').trim(), 'Sep 12, 2025 old', 'a day with one reading shows no time; older than 30 days is marked old');
  assert.match(heads[5]!, /Jun 10, 2020\s*old/);

  const row = (sign: string) => page.locator(`[data-testid=flowsheet-row][data-sign=${sign}]`);
  const firstCell = (sign: string) => row(sign).getByTestId('flowsheet-cell').first();
  for (const [sign, value, flag] of [
    ['bp', '182/110', 'critical-high'],
    ['heartRate', '131', 'critical-high'],
    ['temperature', '39.4', 'critical-high'],
    ['spo2', '86', 'critical-low'],
  ] as const) {
    assert.equal(await firstCell(sign).getAttribute('data-flag'), flag);
    const text = await firstCell(sign).innerText();
    assert.ok(text.startsWith(`${value} `), `${sign}: ${text}`);
    assert.match(text, /!!/);
  }
  assert.match(await row('bp').getByRole('rowheader').innerText(), /^Blood pressure \(mmHg\)$/, 'the unit is named once, in the row');
  assert.match(await row('temperature').getByRole('rowheader').innerText(), /^Temperature \(°C\)$/);
  // 150/92 is high but not critical; 38.4 °C is high; the 2020 readings are normal and unflagged.
  const bpCells = row('bp').getByTestId('flowsheet-cell');
  assert.equal(await bpCells.nth(3).getAttribute('data-flag'), 'high');
  assert.match(await bpCells.nth(3).innerText(), /^150\/92\s+H/);
  assert.equal(await bpCells.nth(5).getAttribute('data-flag'), 'normal');
  assert.equal((await bpCells.nth(5).innerText()).trim(), '128/82');

  const spark = row('heartRate').getByTestId('sparkline');
  assert.equal(await spark.getAttribute('role'), 'img');
  assert.equal(await spark.getAttribute('aria-label'), 'Heart rate trend over 5 readings: 74 /min on Jun 10, 2020 to 131 /min on Nov 25, 2026, rising');

  // Labs: short names, value with unit, the record's reference range, flag from interpretation or computed.
  const lab = (name: string) => page.getByTestId('lab-table').getByTestId('result-row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  const potassium = lab('Potassium').first();
  assert.equal(await potassium.getAttribute('data-flag'), 'high');
  assert.match(await potassium.innerText(), /Potassium\s+5\.9 mmol\/L\s+H\s*\(high\)\s+3\.5–5\.1 mmol\/L/);
  assert.equal(await lab('Creatinine').getAttribute('data-flag'), 'high', 'computed from the range when the record has no interpretation');
  assert.equal(await lab('Lactate').getAttribute('data-flag'), 'critical-high');
  assert.match(await lab('Lactate').innerText(), /0\.5–2\.2 mmol\/L; 4\.0 or more is critical/);
  assert.equal(await lab('Hemoglobin').getAttribute('data-flag'), 'low');
  assert.match(await lab('SARS-CoV-2 RNA (PCR)').innerText(), /Negative\s+Negative/);
  assert.match(await lab('HbA1c').innerText(), /≤ 5\.7 %[\s\S]*old · Jun 10, 2020/);
  assert.match(await potassium.innerText(), /Nov 25, 2026, 03:40 AM/, 'several results on one day show their time');

  await noHorizontalScroll(page, 'results at 1366x768');
  await expectAccessible(page, 'chart results');
  await screenshot(page, 'chart-results');
  assert.deepEqual(problems, []);
  await page.close();
});

test('encounters and access in words; no semantic tags or machine words anywhere in the chart', async () => {
  const { page, problems } = await openPage();
  await openChart(page);
  const pageText: string[] = [await page.locator('body').innerText()];

  await selectTab(page, 'Encounters');
  const timeline = await page.getByTestId('encounter-timeline').innerText();
  for (const words of ['Inpatient stay', 'Emergency', 'Virtual', 'Home visit', 'Outpatient visit']) assert.ok(timeline.includes(words), words);
  assert.match(timeline, /Inpatient stay\s+Hospital admission\s+In progress\s+Reason: Sepsis\s+With Dr\. Priya Natarajan/);
  pageText.push(await page.locator('body').innerText());
  await expectAccessible(page, 'chart encounters');
  await screenshot(page, 'chart-encounters');

  await selectTab(page, 'Access');
  const access = page.getByTestId('access-entry');
  await access.first().waitFor();
  const log = await page.getByTestId('access-table').innerText();
  assert.match(log, /dr\.test\s+Opened chart\s+Succeeded/);
  assert.match(log, /dr\.test\s+Found in search\s+Succeeded/);
  pageText.push(await page.locator('body').innerText());
  await expectAccessible(page, 'chart access');
  await screenshot(page, 'chart-access');

  await selectTab(page, 'Results');
  pageText.push(await page.locator('body').innerText());
  const all = pageText.join('\n');
  for (const machine of ['(disorder)', '(finding)', '(substance)', '(procedure)', '(qualifier value)', 'AMB', 'IMP', 'EMER', 'search-type', '[Moles/volume]', 'Cel', 'mm[Hg]']) {
    assert.ok(!all.includes(machine), `the chart shows "${machine}"`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('tabs by keyboard (roving tabindex, arrows, Home/End); notes and write panes mount in their tabs; Esc in a field or a dialog does not close the chart', async () => {
  const { page, problems } = await openPage();
  await openChart(page);
  const tabs = page.getByRole('tab');
  assert.equal(await tabs.count(), 6);
  assert.deepEqual(await tabs.evaluateAll((els) => els.map((e) => e.getAttribute('tabindex'))), ['0', '-1', '-1', '-1', '-1', '-1']);
  await page.getByRole('tab', { name: 'Summary' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Results');
  assert.equal(await page.getByRole('tab', { selected: true }).innerText(), 'Results');
  assert.equal(await page.getByRole('tab', { name: 'Results' }).getAttribute('tabindex'), '0');
  await page.keyboard.press('End');
  assert.equal(await page.getByRole('tab', { selected: true }).innerText(), 'Access');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { selected: true }).innerText(), 'Summary', 'arrows wrap around');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Home');
  assert.equal(await page.getByRole('tab', { selected: true }).innerText(), 'Summary');

  await selectTab(page, 'Notes');
  await expectAccessible(page, 'chart notes');
  await screenshot(page, 'chart-notes');
  await selectTab(page, 'Write');
  const field = page.getByTestId('panel-write').locator('textarea, input').first();
  await field.waitFor();
  await expectAccessible(page, 'chart write');
  await screenshot(page, 'chart-write');

  // Esc while typing stays in the field; the chart stays open.
  await field.focus();
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('chart').count(), 1, 'Esc in an editable field does not close the chart');

  // Esc with a modal dialog open closes only the dialog (the dialog handles it; the chart ignores it).
  // A bare modal <dialog> with a button (the app's dialogs are native modal dialogs too).
  await page.evaluate(`(() => {
    const d = document.createElement('dialog');
    d.id = 'probe-dialog';
    d.setAttribute('aria-label', 'Probe');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'ok';
    d.append(b);
    document.body.append(d);
    d.showModal();
  })()`);
  await page.keyboard.press('Escape');
  // A function, never a string: the CSP forbids evaluating strings, and a string predicate fails whenever its first poll is false.
  await page.waitForFunction(() => !(globalThis as unknown as { document: { getElementById(id: string): { open: boolean } } }).document.getElementById('probe-dialog').open);
  assert.equal(await page.getByTestId('chart').count(), 1, 'Esc that closes a dialog does not close the chart');

  // Esc with focus on the page closes the chart.
  await page.getByRole('tab', { name: 'Write' }).focus();
  await page.keyboard.press('Escape');
  await page.getByTestId('chart').waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the banner stays on screen while the chart scrolls, and nothing scrolls sideways at 1366x768 or at 200 % zoom (683x384)', async () => {
  for (const viewport of [{ width: 1366, height: 768 }, { width: 683, height: 384 }]) {
    const { page, problems } = await openPage(viewport);
    await openChart(page);
    for (const tab of ['Summary', 'Results', 'Encounters', 'Access']) {
      await selectTab(page, tab);
      await noHorizontalScroll(page, `${tab} at ${viewport.width}x${viewport.height}`);
      // Scroll the chart's scrolling container to its bottom: the banner is still in the viewport.
      const scrolled = (await page.evaluate(`(() => {
        let box = document.querySelector('[data-testid=chart]').parentElement;
        while (box && !(box.scrollHeight > box.clientHeight && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
        const target = box ?? document.scrollingElement;
        target.scrollTop = target.scrollHeight;
        return target.scrollTop;
      })()`)) as number;
      if (tab === 'Summary') assert.ok(scrolled > 0, 'the summary is longer than the screen, so the test scrolls');
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(null)))');
      const banner = (await page.getByTestId('patient-banner').boundingBox())!;
      assert.ok(banner.y >= 0 && banner.y + banner.height <= viewport.height, `${tab} at ${viewport.width}: the banner is on screen (${banner.y})`);
      assert.ok(await page.getByTestId('chart-name').isVisible());
    }
    if (viewport.width === 683) {
      await selectTab(page, 'Summary');
      await screenshot(page, 'chart-summary-200-percent');
      await expectAccessible(page, 'chart summary at 200 %');
    } else {
      await screenshot(page, 'chart-scrolled-banner');
    }
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test('dark theme: the flags, old markers and banner keep their contrast (axe) on the summary and the results', async () => {
  const { page, problems } = await openPage();
  assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'light', 'the OS is light: the light theme');
  await page.emulateMedia({ colorScheme: 'dark' });
  // The OS turned dark: the page follows it, live (matchMedia's change event).
  await page.waitForFunction(() => (globalThis as unknown as { document: { documentElement: { dataset: { theme?: string } } } }).document.documentElement.dataset.theme === 'dark', undefined, { timeout: 5000 });
  await openChart(page);
  await expectAccessible(page, 'chart summary, dark');
  await screenshot(page, 'chart-summary-dark');
  await selectTab(page, 'Results');
  await expectAccessible(page, 'chart results, dark');
  await screenshot(page, 'chart-results-dark');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Synthea charts too: no SNOMED semantic tag, raw encounter class or audit subtype on any tab', async () => {
  const { page, problems } = await openPage();
  const leftovers: string[] = [];
  for (const file of SYNTHEA_FILES) {
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as { entry: Array<{ resource: { resourceType: string; name?: Array<{ family: string }> } }> };
    const family = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource.name![0]!.family;
    await openChart(page, family);
    for (const tab of ['Summary', 'Results', 'Notes', 'Encounters', 'Access']) {
      await selectTab(page, tab);
      if (tab === 'Access') await page.getByTestId('access-entry').first().waitFor();
      const text = await page.getByTestId('chart').innerText();
      const found = text.match(/\((disorder|finding|procedure|qualifier value|situation|substance|observable entity|regime\/therapy|record artifact|physical object|morphologic abnormality|occupation)\)|\b(AMB|IMP|EMER|search-type)\b/g);
      if (found) leftovers.push(`${tab}: ${[...new Set(found)].join(', ')}`);
    }
    await page.getByRole('button', { name: 'Close chart (Esc)' }).click();
    await page.getByTestId('chart').waitFor({ state: 'detached' });
  }
  assert.deepEqual(leftovers, []);
  assert.deepEqual(problems, []);
  await page.close();
});
