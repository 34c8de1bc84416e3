/**
 * Signing is deliberate and a signed note is readable, in Chromium against
 * the real services: an empty note cannot be signed (the button is disabled
 * with the reason in words, and main refuses an empty note sent anyway);
 * signing asks for confirmation, and Esc (closing the question only) or
 * Cancel signs nothing; the signed note
 * reads with its section titles, author and signed time; an addendum is
 * drafted as it is typed, confirmed, and shown beneath the note.
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

const patient = loadFixturePatients()[1]!;
const keychain = testKeychain();
const dir = scratchDir('charting-notes');
let desktop: EnrolledDesktop;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain);
  page = desktop.page;
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.getByTestId('patient-result').first().click();
  await page.getByTestId('chart').waitFor();
  await page.getByRole('tab', { name: 'Write' }).click();
  await page.getByTestId('note-editor').getByLabel('Subjective').waitFor();
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

const editor = () => page.getByTestId('note-editor');
const signButton = () => editor().getByRole('button', { name: 'Sign note…' });

/** The patient's notes in the cache, with their status. */
async function notesInCache(): Promise<Array<{ status: string; relatesTo?: unknown }>> {
  const db = await desktop.db();
  return (db.prepare("SELECT json FROM resources WHERE resource_type = 'Composition'").pluck().all() as string[])
    .map((j) => JSON.parse(j) as { status: string; subject: { reference: string }; relatesTo?: unknown })
    .filter((c) => c.subject.reference === `Patient/${patient.id}`);
}

test('an empty note cannot be signed: the button says why, and main refuses one sent anyway', async () => {
  assert.equal(await signButton().isDisabled(), true);
  const reason = await page.getByTestId('sign-reason').innerText();
  assert.match(reason, /Write at least one section to sign/);
  assert.equal(await signButton().getAttribute('aria-describedby'), await page.getByTestId('sign-reason').getAttribute('id'));

  // Whitespace is still empty.
  await editor().getByLabel('Plan').fill('   ');
  assert.equal(await signButton().isDisabled(), true);
  await editor().getByLabel('Plan').fill('');

  // Past the UI: main refuses to sign a blank note.
  const refused = await page.evaluate(async (patientId) => {
    const api = (globalThis as unknown as { clinician: { notes: { saveDraft(i: unknown): Promise<{ ok: boolean; value?: { noteId: string } }>; sign(i: unknown): Promise<{ ok: boolean; error?: { code: string; message: string } }> } } }).clinician;
    const draft = await api.notes.saveDraft({ patientId, subjective: ' ', objective: '', assessment: '', plan: '' });
    return api.notes.sign({ noteId: draft.value!.noteId });
  }, patient.id);
  assert.equal(refused.ok, false);
  assert.equal(refused.error?.code, 'INVALID_INPUT');
  assert.ok((await notesInCache()).every((n) => n.status !== 'final'), 'nothing signed');
  await screenshot(page, 'charting-empty-note');
});

test('signing asks first: Esc (closing only the question) and Cancel sign nothing, Sign note signs', async () => {
  await editor().getByLabel('Subjective').fill('Short of breath on stairs for a week.');
  await editor().getByLabel('Assessment').fill('Likely deconditioning; rule out anaemia.');
  await editor().getByLabel('Plan').fill('Full blood count.\nReview Friday.');
  await signButton().click();
  const dialog = page.getByTestId('sign-confirm');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Sign this progress note\? A signed note cannot be changed; corrections are added as addenda\./);
  await screenshot(page, 'charting-sign-confirm');
  await expectAccessible(page, 'charting sign confirmation');
  // Esc closes the question only: the chart and the text stay.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('chart').count(), 1, 'Esc in the dialog left the chart open');
  assert.equal(await editor().getByLabel('Subjective').inputValue(), 'Short of breath on stairs for a week.');
  await signButton().click();
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.ok((await notesInCache()).every((n) => n.status !== 'final'), 'Esc and Cancel signed nothing');
  assert.equal(await editor().getByLabel('Subjective').inputValue(), 'Short of breath on stairs for a week.', 'and kept the text');

  await signButton().click();
  await page.getByTestId('sign-confirm-confirm').click();
  await page.getByTestId('charting-message').getByText('Note signed.').waitFor();
  assert.equal((await notesInCache()).filter((n) => n.status === 'final').length, 1);
  assert.equal(await editor().getByLabel('Subjective').inputValue(), '', 'the editor starts a new note');
  const drafts = await desktop.page.evaluate((patientId) => (globalThis as unknown as { clinician: { drafts: { list(i: unknown): Promise<{ value: { drafts: unknown[] } }> } } }).clinician.drafts.list({ patientId }), patient.id);
  assert.equal(drafts.value.drafts.length, 0, 'the signed note left no draft behind');
});

test('a signed note reads with its sections, author and time; an addendum is confirmed and shown beneath it', async () => {
  await page.getByRole('tab', { name: 'Notes' }).click();
  const note = page.getByTestId('signed-note').first();
  await note.waitFor();
  for (const title of ['Subjective', 'Objective', 'Assessment', 'Plan']) await note.getByRole('heading', { name: title, exact: true }).waitFor();
  const text = await note.innerText();
  assert.match(text, /Short of breath on stairs for a week\./);
  assert.match(text, /Full blood count\.\nReview Friday\./, 'line breaks as written');
  assert.match(text, /Signed by .+ · /);
  assert.ok((await note.getByTestId('note-author').innerText()).length > 0);
  await screenshot(page, 'charting-signed-note');
  await expectAccessible(page, 'charting signed note');

  await note.getByRole('button', { name: 'Add addendum' }).click();
  await note.getByTestId('addendum-editor').getByLabel('Addendum').fill('Full blood count normal.');
  await note.getByRole('button', { name: 'Sign addendum…' }).click();
  const dialog = page.getByTestId('addendum-confirm');
  await dialog.waitFor();
  await screenshot(page, 'charting-addendum-confirm');
  await page.getByTestId('addendum-confirm-confirm').click();
  await note.getByTestId('addendum').first().waitFor();
  assert.match(await note.getByTestId('addendum').first().innerText(), /Full blood count normal\./);
  const addenda = (await notesInCache()).filter((n) => n.relatesTo !== undefined);
  assert.equal(addenda.length, 1);
  assert.equal((await notesInCache()).filter((n) => n.status === 'final').length, 2, 'the note and its addendum, both signed');
  await screenshot(page, 'charting-addendum');
});

test('the Write pane at 200 % zoom (683x384): every field reachable, no horizontal scroll', async () => {
  await page.setViewportSize({ width: 683, height: 384 });
  await page.getByRole('tab', { name: 'Write' }).click();
  await editor().getByLabel('Subjective').waitFor();
  const widths = await page.evaluate(() => {
    const el = (globalThis as unknown as { document: { scrollingElement: { scrollWidth: number; clientWidth: number } } }).document.scrollingElement;
    return { scroll: el.scrollWidth, client: el.clientWidth };
  });
  assert.ok(widths.scroll <= widths.client, `no horizontal page scroll (${widths.scroll} > ${widths.client})`);
  await page.getByTestId('vitals-form').getByLabel('Weight (kg)').scrollIntoViewIfNeeded();
  await page.getByTestId('vitals-form').getByLabel('Weight (kg)').focus();
  await screenshot(page, 'charting-write-200pct');
  await expectAccessible(page, 'charting write pane at 200 %');
  await page.setViewportSize({ width: 1366, height: 768 });
});
