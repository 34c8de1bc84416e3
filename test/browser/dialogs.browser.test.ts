/**
 * The shell's panels are real modal dialogs, in Chromium against the real
 * services (enrolled desktop): with a chart open, each of Devices, Waiting
 * changes, Conflicts and Settings takes the focus when it opens, Esc closes
 * the dialog only (the chart stays open) and the focus returns to the
 * button that opened it. The Waiting changes dialog lists a change made
 * offline under the patient's name with its kind, age and state, and Undo
 * (after a confirmation) takes it back before it is sent; a change the
 * server refused is offered as Discard instead, and discarding it puts the
 * record back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { loadFixturePatients } from '../support/synthea';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';
import { settle } from '../../electron/services/outbox';

const patient = loadFixturePatients()[0]!;
const keychain = testKeychain();
const dir = scratchDir('dialogs');
let desktop: EnrolledDesktop;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain);
  page = desktop.page;
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

async function openChart(): Promise<void> {
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.keyboard.press('Enter');
  await page.getByTestId('chart').waitFor();
}

async function focusedTestId(): Promise<string | null> {
  return page.evaluate('document.activeElement && document.activeElement.getAttribute("data-testid")') as Promise<string | null>;
}

async function focusInside(dialog: Locator): Promise<boolean> {
  return dialog.evaluate((d) => d.contains((d.ownerDocument as { activeElement: unknown }).activeElement as never));
}

test('each panel is a modal dialog: focus in, Esc closes only the dialog, focus back on its opener', async () => {
  await openChart();
  const openers: Array<[string, Locator]> = [
    ['devices-panel', page.getByRole('button', { name: 'Devices' })],
    ['waiting-dialog', page.getByTestId('sync-status-button')],
    ['settings-dialog', page.getByTestId('settings-button')],
  ];
  for (const [testId, opener] of openers) {
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId(testId);
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => (d as unknown as { open: boolean; tagName: string }).tagName === 'DIALOG' && (d as unknown as { open: boolean }).open), true, `${testId} is an open <dialog>`);
    assert.ok(await focusInside(dialog), `${testId}: the focus moved into the dialog`);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('chart').count(), 1, `${testId}: Esc closed the dialog only, the chart is still open`);
    assert.equal(await opener.evaluate((b) => b === (b.ownerDocument as { activeElement: unknown }).activeElement), true, `${testId}: focus is back on its opener`);
  }
});

/** Each of the patient's problems' clinical status in the cache, by id. */
async function problemStatuses(): Promise<Record<string, string>> {
  const rows = (await desktop.db())
    .prepare("SELECT id, json_extract(json, '$.clinicalStatus.coding[0].code') AS status FROM resources WHERE resource_type = 'Condition' AND patient_id = ? ORDER BY id")
    .all(patient.id) as Array<{ id: string; status: string }>;
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

test('a change not sent yet is listed by patient, kind, age and state, and Undo (confirmed) takes it back', async () => {
  // The sync worker stops, so the change stays untried on this computer (once a push was tried it may have left: no undo).
  await desktop.auth.stopSync();
  const row = page.locator('[data-condition]').first();
  const problem = (await row.innerText()).split('\n')[0]!.trim();
  const before = await row.locator('select').inputValue();
  const next = before === 'resolved' ? 'active' : 'resolved';
  const statusesBefore = await problemStatuses();
  await row.locator('select').selectOption(next);
  await row.getByRole('button', { name: 'Save change' }).click();
  await page.getByTestId('problem-confirm-confirm').click();
  await page.getByTestId('sync-waiting').getByText('1 waiting').waitFor({ timeout: 10_000 });

  await page.getByTestId('sync-status-button').click();
  const dialog = page.getByTestId('waiting-dialog');
  const group = dialog.getByTestId('waiting-patient');
  await group.waitFor();
  assert.equal(await group.locator('h3').innerText(), `${patient.given} ${patient.family}`, 'grouped under the patient by name');
  const change = group.getByTestId('waiting-change');
  assert.equal(await change.count(), 1);
  const text = await change.innerText();
  assert.match(text, /Problem/, 'the kind in words');
  assert.match(text, /waiting (under a minute|\d+ min)/, 'its age');
  assert.match(text, /Waiting to send/, 'its state in words');
  await expectAccessible(page, 'waiting changes dialog with a change');
  await screenshot(page, 'shell-14-waiting-dialog-change');

  await change.getByTestId('waiting-undo').click();
  const confirm = page.getByTestId('undo-confirm');
  await confirm.waitFor();
  await expectAccessible(page, 'undo confirmation');
  // Esc in the confirmation closes only the confirmation.
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  assert.equal(await dialog.count(), 1, 'the waiting dialog is still open');
  await change.getByTestId('waiting-undo').click();
  await page.getByTestId('undo-confirm-confirm').click();
  await dialog.getByTestId('waiting-none').waitFor({ timeout: 10_000 });
  await page.getByTestId('sync-waiting').getByText('All changes sent').waitFor({ timeout: 10_000 });
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await focusedTestId(), 'sync-status-button');
  assert.deepEqual(await problemStatuses(), statusesBefore, `${problem}: back to ${before}, as every problem was`);
  assert.equal((await desktop.db()).prepare('SELECT count(*) FROM outbox').pluck().get(), 0, 'nothing left to send');
});

test('a change the server refused is offered as Discard (not Undo), and discarding it puts the problem back', async () => {
  await desktop.auth.stopSync();
  const row = page.locator('[data-condition]').first();
  const before = await row.locator('select').inputValue();
  const next = before === 'inactive' ? 'active' : 'inactive';
  const statusesBefore = await problemStatuses();
  await row.locator('select').selectOption(next);
  await row.getByRole('button', { name: 'Save change' }).click();
  await page.getByTestId('problem-confirm-confirm').click();
  await page.getByTestId('sync-waiting').getByText('1 waiting').waitFor({ timeout: 10_000 });
  // The backend's answer for it: refused (as settle records a real push reply).
  const session = desktop.auth.session()!;
  const db = await desktop.db();
  const key = db.prepare('SELECT idempotency_key FROM outbox').pluck().get() as string;
  await settle(session, [{ idempotencyKey: key, status: 'refused', reason: 'Not found among your patients.' }]);

  await page.getByTestId('sync-status-button').click();
  const dialog = page.getByTestId('waiting-dialog');
  const change = dialog.getByTestId('waiting-change');
  await change.waitFor();
  assert.match(await change.innerText(), /Refused by the server/);
  const action = change.getByTestId('waiting-undo');
  assert.match(await action.innerText(), /^Discard/, 'a refused change is discarded, not undone');
  await action.click();
  const confirm = page.getByTestId('undo-confirm');
  assert.match(await confirm.innerText(), /did not take this problem/);
  await page.getByTestId('undo-confirm-confirm').click();
  await dialog.getByTestId('waiting-none').waitFor({ timeout: 10_000 });
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(await problemStatuses(), statusesBefore, 'the problem is back as it was');
  assert.equal(db.prepare('SELECT count(*) FROM outbox').pluck().get(), 0, 'nothing left, refused or not');
});
