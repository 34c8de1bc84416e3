/**
 * "My patients" as the home screen, in Chromium against the real services
 * (enrolled desktop, the Synthea fixtures and the critical patient): every
 * assigned patient with age/sex, MRN, latest encounter in words and flags as
 * text; headers sort (aria-sort says how) both ways; the keyboard alone
 * moves between rows and Enter opens the chart; a click on a row opens it;
 * closing the chart comes back to the worklist with the focus on that
 * patient.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { SYNTHEA_DIR, loadFixturePatients } from '../support/synthea';
import { expectAccessible } from './axe';
import { ROOT } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const patients = loadFixturePatients();
const keychain = testKeychain();
const dir = scratchDir('worklist');
let desktop: EnrolledDesktop;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain, { backendFlags: ['--bundles', SYNTHEA_DIR, '--bundles', CRITICAL_FILE] });
  page = desktop.page;
  await page.getByTestId('worklist-row').first().waitFor();
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

const names = () => page.locator('[data-testid=worklist-row] .open-button').allInnerTexts();
const sortOf = (label: string) => page.locator('.worklist-table thead th').filter({ hasText: label }).getAttribute('aria-sort');

test('every patient with age/sex, MRN, latest encounter in words and text flags; no raw class codes', async () => {
  assert.equal(await page.getByTestId('worklist-row').count(), patients.length + 1);
  const rows = await page.getByTestId('worklist-row').allInnerTexts();
  for (const p of patients) {
    const row = rows.find((r) => r.includes(`${p.given} ${p.family}`));
    assert.ok(row, `${p.given} ${p.family} is listed`);
    assert.ok(row.includes(p.mrn), 'with the MRN');
    assert.match(row, /\d+ y · (Female|Male)/, 'age and sex');
  }
  const critical = rows.find((r) => r.includes('Marguerite Vantongeren'))!;
  assert.match(critical, /\d+ critical/);
  assert.match(critical, /\d+ allerg(y|ies)/);
  assert.match(critical, /Inpatient stay|Outpatient visit|Emergency/);
  assert.doesNotMatch(rows.join('\n'), /\b(AMB|IMP|EMER)\b/, 'encounter classes in words');
  await expectAccessible(page, 'worklist');
});

test('headers sort both ways and say so with aria-sort', async () => {
  const initial = await names();
  assert.deepEqual(initial, [...initial].sort((a, b) => a.localeCompare(b)), 'by name, ascending, at first');
  assert.equal(await sortOf('Patient'), 'ascending');
  assert.equal(await sortOf('MRN'), 'none');

  await page.getByTestId('sort-name').click();
  assert.equal(await sortOf('Patient'), 'descending');
  assert.deepEqual(await names(), [...initial].reverse());

  await page.getByTestId('sort-attention').click();
  assert.equal(await sortOf('Needs attention'), 'descending');
  assert.equal(await sortOf('Patient'), 'none');
  assert.equal((await names())[0], 'Marguerite Vantongeren', 'the most critical first');

  // Keyboard: the sort buttons are buttons; Enter toggles.
  await page.getByTestId('sort-age').focus();
  await page.keyboard.press('Enter');
  assert.equal(await sortOf('Age / sex'), 'ascending');
  const ages = (await page.locator('[data-testid=worklist-row] td:nth-of-type(1)').allInnerTexts()).map((t) => Number(t.match(/^(\d+) y/)?.[1]));
  assert.deepEqual(ages, [...ages].sort((a, b) => a - b), 'youngest first');
  await page.keyboard.press('Enter');
  assert.equal(await sortOf('Age / sex'), 'descending');
  await page.getByTestId('sort-name').click();
});

test('keyboard alone: arrows move between patients, Enter opens the chart; Esc returns with the focus on that patient', async () => {
  const order = await names();
  await page.locator('[data-testid=worklist-row] .open-button').first().focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate('document.activeElement.textContent'), order[2]);
  await page.keyboard.press('Enter');
  await page.getByTestId('chart').waitFor();
  assert.equal(await page.locator('.banner h1').innerText(), order[2]);
  assert.equal(await page.getByTestId('worklist').count(), 0, 'the worklist leaves the page while a chart is open');

  await page.keyboard.press('Escape');
  await page.getByTestId('worklist-row').first().waitFor();
  assert.equal(await page.evaluate('document.activeElement.textContent'), order[2], 'focus back on the patient whose chart closed');
});

test('Esc from a top-bar button closes the chart and the focus still comes back to that patient', async () => {
  const row = page.getByTestId('worklist-row').filter({ hasText: 'Marguerite Vantongeren' });
  await row.locator('.open-button').click();
  await page.getByTestId('chart').waitFor();
  // Shift+Tab from the chart reaches the top bar; Esc there is not a field's, so it closes the chart.
  await page.getByTestId('settings-button').focus();
  await page.keyboard.press('Escape');
  await page.getByTestId('worklist-row').first().waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Marguerite Vantongeren');
});

test('a click anywhere on a row opens that chart', async () => {
  const row = page.getByTestId('worklist-row').filter({ hasText: 'Marguerite Vantongeren' });
  await row.locator('td').last().click();
  await page.getByTestId('chart').waitFor();
  assert.equal(await page.locator('.banner h1').innerText(), 'Marguerite Vantongeren');
  await page.locator('body').press('Escape');
  await page.getByTestId('worklist-row').first().waitFor();
});

test('search from the worklist: the help names several birth-date formats, and each finds the patient', async () => {
  await page.locator('body').press('/');
  const help = await page.locator('#patient-search').evaluate((el) => {
    const id = el.getAttribute('aria-describedby');
    return id ? ((el.ownerDocument as unknown as { getElementById(i: string): { textContent: string } | null }).getElementById(id)?.textContent ?? '') : '';
  });
  assert.match(help, /1984-03-07/);
  assert.match(help, /07\.03\.1984/);
  assert.match(help, /7 Mar 1984/);
  for (const query of ['1958-03-14', '14.03.1958', '14 Mar 1958']) {
    await page.locator('#patient-search').fill(query);
    await page.getByTestId('patient-result').filter({ hasText: 'Marguerite Vantongeren' }).waitFor();
  }
  await page.keyboard.press('Enter');
  await page.getByTestId('chart').waitFor();
  assert.equal(await page.locator('.banner h1').innerText(), 'Marguerite Vantongeren');
  await page.locator('body').press('Escape');
  await page.getByTestId('worklist-row').first().waitFor();
});
