/**
 * Nothing typed is lost, in Chromium against the real services (backend
 * process, the app's AuthService and encrypted cache, a virtual passkey):
 * a half-written SOAP note survives Esc (in the field and outside it) and a
 * chart close, a lock (Ctrl+L) and unlock bring back the same chart on the
 * Write tab with the draft in place, and after the app quits and starts
 * again the draft is listed for the patient and reopens. A saved draft note
 * is listed and reopens with its SOAP text.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { loadFixturePatients } from '../support/synthea';
import { screenshot } from './harness';
import { expectAccessible } from './axe';
import { chartingDesktop, waitValue as waitValueOn, type ChartingDesktop } from './charting-desktop';

const patient = loadFixturePatients()[0]!;
const keychain = testKeychain();
const dir = scratchDir('charting-drafts');
let desktop: ChartingDesktop;
let page: Page;

const HALF = 'Cough for three days, worse at ni';
const MORE = 'Probable viral bronchi';

before(async () => {
  desktop = await chartingDesktop(dir.path, keychain);
  page = desktop.page;
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

async function openChart() {
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.getByTestId('patient-result').first().click();
  await page.getByTestId('chart').waitFor();
}

async function openTab(name: 'Write' | 'Notes') {
  await page.getByRole('tab', { name }).click();
  if (name === 'Write') await page.getByTestId('note-editor').getByLabel('Subjective').waitFor();
  else await page.getByTestId('notes-pane').waitFor();
}

const waitValue = (selector: string, text: string) => waitValueOn(page, selector, text);

/** Waits until the note field `key` holds exactly `text` (the draft loads asynchronously). */
const waitNote = (key: string, text: string) => waitValue(`#note-${key}`, text);

const subjective = () => page.getByTestId('note-editor').getByLabel('Subjective');
const assessment = () => page.getByTestId('note-editor').getByLabel('Assessment');

test('Esc in the note and outside it never loses a half-written note; the chart reopens with it', async () => {
  await openChart();
  await openTab('Write');
  await subjective().click();
  await page.keyboard.type(HALF);
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('chart').count(), 1, 'Esc in the textarea leaves the chart open');
  assert.equal(await subjective().inputValue(), HALF, 'and the text in place');

  // Focus outside any field: Esc closes the chart (and only closes it).
  await page.getByRole('tab', { name: 'Write' }).focus();
  await page.keyboard.press('Escape');
  await page.getByTestId('chart').waitFor({ state: 'detached' });

  await openChart();
  await openTab('Write');
  await waitNote('subjective', HALF);
  await page.getByTestId('draft-status').first().getByText(/Draft kept on this computer · last typed/).waitFor();
  await screenshot(page, 'charting-write-draft');
  await expectAccessible(page, 'charting write pane with a draft');
});

test('a lock (Ctrl+L) keeps the note; unlock returns to the same chart on the Write tab with the draft in place', async () => {
  await assessment().click();
  await page.keyboard.type(MORE);
  await page.keyboard.press('Control+l');
  await page.getByTestId('lock-screen').waitFor();
  assert.equal(await page.getByText(HALF).count(), 0, 'no note text behind the lock');

  await page.getByRole('button', { name: 'Unlock with passkey' }).click();
  await page.getByTestId('chart').waitFor();
  await page.getByRole('tab', { name: 'Write', selected: true }).waitFor();
  await waitNote('subjective', HALF);
  await waitNote('assessment', MORE);
});

test('after a quit and a new start, the draft is listed for the patient and reopens', async () => {
  await desktop.quitAndRestart();
  await page.getByRole('button', { name: 'Unlock with passkey' }).click();
  await page.getByText('Encrypted cache open').waitFor();
  if ((await page.getByTestId('chart').count()) === 0) await openChart();
  await openTab('Notes');
  const listed = page.getByTestId('notes-pane').getByTestId('draft').filter({ hasText: 'Progress note' });
  await listed.first().waitFor();
  assert.match(await listed.first().innerText(), /on this computer · last typed/);
  assert.equal(await page.getByTestId('notes-pane').getByText(HALF).count(), 0, 'the list names the draft, it does not show its text');
  await screenshot(page, 'charting-notes-drafts');
  await expectAccessible(page, 'charting notes pane with drafts');

  await listed.first().getByRole('button', { name: /Open/ }).click();
  await page.getByRole('tab', { name: 'Write', selected: true }).waitFor();
  await waitNote('subjective', HALF);
  assert.equal(await assessment().inputValue(), MORE);
});

test('a saved draft note is listed and reopens in the editor with its SOAP text', async () => {
  await page.getByTestId('note-editor').getByLabel('Plan').fill('Review in two days.');
  await page.getByRole('button', { name: 'Save draft note' }).click();
  await page.getByTestId('charting-message').getByText(/Draft note saved/).waitFor();
  await page.getByTestId('note-editor').getByRole('heading', { name: 'Draft progress note' }).waitFor();

  await page.getByRole('button', { name: 'New note' }).click();
  await page.getByTestId('note-editor').getByRole('heading', { name: 'New progress note' }).waitFor();
  assert.equal(await subjective().inputValue(), '');

  await openTab('Notes');
  const saved = page.getByTestId('notes-pane').locator('[data-testid=draft][data-kind=saved-note]');
  await saved.first().waitFor();
  assert.match(await saved.first().innerText(), /saved draft/);
  await saved.first().getByRole('button', { name: /Open/ }).click();
  await page.getByRole('tab', { name: 'Write', selected: true }).waitFor();
  await waitNote('subjective', HALF);
  assert.equal(await assessment().inputValue(), MORE);
  assert.equal(await page.getByTestId('note-editor').getByLabel('Plan').inputValue(), 'Review in two days.');
});

test('a lock that starts in main while a keystroke is being saved loses nothing: the write the lock cut off is sent after unlock', async () => {
  if ((await page.getByTestId('chart').count()) === 0) await openChart();
  await openTab('Write');
  await assessment().click();
  await page.keyboard.press('End');
  const before = await assessment().inputValue();
  await page.keyboard.type(' (sat');
  await waitNote('assessment', `${before} (sat`);
  await page.getByTestId('draft-status').first().getByText(/last typed/).waitFor();
  // The moment of an OS screen lock: the cache closes in main before the page hears of it.
  const auth = desktop.auth() as unknown as { session(): unknown };
  const realSession = auth.session;
  let refused = 0;
  auth.session = () => {
    refused++;
    return null;
  };
  try {
    await page.keyboard.type('s');
    await page.locator('[data-testid="draft-status"][data-state="failed"]').first().waitFor({ timeout: 10_000 });
    assert.ok(refused > 0, 'the keystroke reached main and was refused');
  } finally {
    auth.session = realSession;
  }
  desktop.auth().lockNow('screen-lock');
  await page.getByTestId('lock-screen').waitFor();
  await page.getByRole('button', { name: 'Unlock with passkey' }).click();
  await page.getByTestId('chart').waitFor();
  await waitNote('assessment', `${before} (sats`);
  const stored = ((await desktop.db()).prepare("SELECT body_json FROM drafts WHERE kind = 'note'").pluck().all() as string[]).join('\n');
  assert.ok(stored.includes(`${before} (sats`.slice(-40)), 'the cache holds the last keystroke');
});
