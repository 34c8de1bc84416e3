/**
 * A problem's status changes only deliberately, in Chromium against the real
 * services: ArrowDown on a focused status select saves nothing (no change
 * in the cache, nothing waiting to sync); "Save change" asks with the
 * problem's name and old → new status; after saving, the row stays where it
 * was and offers Undo while the change is unsent (online, held for the
 * organisation's default undo window of 10 seconds); Undo restores the
 * status; once sent, the row says it went and offers to change it again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { loadFixturePatients } from '../support/synthea';
import { screenshot } from './harness';
import { expectAccessible } from './axe';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';
import { waitValue } from './charting-desktop';

const keychain = testKeychain();
const dir = scratchDir('problem-status');
let desktop: EnrolledDesktop;
let page: Page;

interface Row { id: string; name: string; status: string }

before(async () => {
  // The organisation's default undo window (10 s), as the app runs.
  desktop = await enrolledDesktop(dir.path, keychain, { undoSeconds: 10 });
  page = desktop.page;
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

async function conditionStatus(id: string): Promise<string> {
  const json = (await desktop.db()).prepare("SELECT json FROM resources WHERE resource_type = 'Condition' AND id = ?").pluck().get(id) as string;
  return (JSON.parse(json) as { clinicalStatus: { coding: Array<{ code: string }> } }).clinicalStatus.coding[0]!.code;
}

async function waitingChanges(): Promise<number> {
  return (await desktop.db()).prepare('SELECT count(*) FROM outbox').pluck().get() as number;
}

async function rows(): Promise<Row[]> {
  return page.getByTestId('problem').evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-condition') ?? '',
      name: (tr.querySelector('td') as { textContent: string | null } | null)?.textContent ?? '',
      status: (tr.querySelector('select') as { value: string } | null)?.value ?? '',
    })),
  );
}

/**
 * Until the change just saved has left this computer: the status line first
 * counts it waiting (held for the 10 s undo window; until its next poll it may
 * still show the "All changes sent" of before the save), then says all sent.
 */
async function untilSent(): Promise<void> {
  await page.getByTestId('sync-waiting').getByText(/\d+ waiting/).waitFor({ timeout: 10_000 });
  await page.getByTestId('sync-waiting').getByText(/All changes (sent|saved)/).waitFor({ timeout: 60_000 });
}

let problem: Row;
let order: string[];

test('ArrowDown on a focused status select saves nothing', async () => {
  // A patient with resolved problems, and an active one added here (a deliberate add).
  const patient = loadFixturePatients()[1]!;
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.getByTestId('patient-result').first().click();
  await page.getByTestId('problems').waitFor();
  const shown = (await rows()).length;
  assert.ok(shown >= 2, 'the fixture patient has problems');
  await page.getByLabel('New problem', { exact: true }).fill('Hypertension');
  await page.getByRole('button', { name: 'Add problem' }).click();
  await page.getByTestId('problem').nth(shown).waitFor();
  const listed = await rows();
  order = listed.map((r) => r.id);
  problem = listed.find((r) => r.name === 'Hypertension')!;
  assert.equal(problem.status, 'active');
  await untilSent();
  const outbox = await waitingChanges();

  const select = page.locator(`[data-condition="${problem.id}"] select`);
  await select.focus();
  await page.keyboard.press('ArrowDown');
  const staged = await select.inputValue();
  assert.notEqual(staged, problem.status, 'the select shows the choice');
  // The choice is staged, not saved: the cache and the outbox are unchanged.
  await page.locator(`[data-condition="${problem.id}"]`).getByRole('button', { name: 'Save change' }).waitFor();
  assert.equal(await conditionStatus(problem.id), problem.status, 'the problem is unchanged in the cache');
  assert.equal(await waitingChanges(), outbox, 'nothing waits to be sent');
  assert.match(await page.locator(`[data-condition="${problem.id}"]`).innerText(), /Not saved: .+ → /);
  await screenshot(page, 'charting-problem-staged');
  await expectAccessible(page, 'charting problem staged');
  // Back to the current status: nothing staged.
  await page.keyboard.press('ArrowUp');
  await page.locator(`[data-condition="${problem.id}"]`).getByRole('button', { name: 'Save change' }).waitFor({ state: 'detached' });
});

test('a status change needs confirmation naming the problem and old → new, and keeps its row; once sent, Undo says it went and offers to change it again', async () => {
  const row = page.locator(`[data-condition="${problem.id}"]`);
  await row.locator('select').selectOption('inactive');
  await row.getByRole('button', { name: 'Save change' }).click();
  const dialog = page.getByTestId('problem-confirm');
  await dialog.waitFor();
  const question = await dialog.innerText();
  assert.match(question, /Change the status of Hypertension from Active to Inactive\?/);
  await screenshot(page, 'charting-problem-confirm');
  await expectAccessible(page, 'charting problem confirmation');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await conditionStatus(problem.id), 'active', 'Cancel changed nothing');

  await row.getByRole('button', { name: 'Save change' }).click();
  await page.getByTestId('problem-confirm-confirm').click();
  await row.getByTestId('undo-line').getByText('Changed to Inactive').waitFor();
  assert.equal(await conditionStatus(problem.id), 'inactive');
  await waitValue(page, `[data-condition="${problem.id}"] select`, 'inactive');
  assert.deepEqual((await rows()).map((r) => r.id), order, 'rows keep their order');

  await untilSent();
  await row.getByTestId('undo-line').getByRole('button', { name: 'Undo' }).click();
  await row.getByTestId('undo-line').getByText(/already (sent|reached|answered)|being sent/).waitFor();
  assert.equal(await conditionStatus(problem.id), 'inactive', 'the sent change stays');
  await row.getByTestId('undo-line').getByRole('button', { name: 'Change it again' }).click();
  assert.equal(await row.locator('select').evaluate((el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement), true, 'the status select has the focus');
});

test('a change not yet sent is undone: the status is back and the row has not moved', async () => {
  // Online, sync running: the change is held on this computer for the undo window.
  const row = page.locator(`[data-condition="${problem.id}"]`);
  await row.locator('select').selectOption('resolved');
  await row.getByRole('button', { name: 'Save change' }).click();
  await page.getByTestId('problem-confirm-confirm').click();
  await row.getByTestId('undo-line').getByText('Changed to Resolved').waitFor();
  assert.equal(await conditionStatus(problem.id), 'resolved');
  await waitValue(page, `[data-condition="${problem.id}"] select`, 'resolved');
  assert.deepEqual((await rows()).map((r) => r.id), order, 'rows keep their order (a resolved problem does not sink)');
  await screenshot(page, 'charting-problem-changed');

  await row.getByTestId('undo-line').getByRole('button', { name: 'Undo' }).click();
  await row.getByTestId('undo-line').getByText(/Undone/).waitFor();
  assert.equal(await conditionStatus(problem.id), 'inactive', 'the status is back');
  await waitValue(page, `[data-condition="${problem.id}"] select`, 'inactive');
  assert.deepEqual((await rows()).map((r) => r.id), order, 'rows keep their order');
});
