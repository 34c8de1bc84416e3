/**
 * Vitals errors stand at their field, in words, with the range, in Chromium
 * against the real services: each implausible value is marked at its own
 * field (aria-invalid, described by its message) and listed in an alert,
 * nothing is recorded; a °F temperature in the °C field is offered as a
 * conversion; saved vitals can be undone while they have not left this
 * computer, and once sent the line says so.
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

const patient = loadFixturePatients()[2]!;
const keychain = testKeychain();
const dir = scratchDir('charting-vitals');
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
  await form().getByLabel('Heart rate (/min)').waitFor();
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

const form = () => page.getByTestId('vitals-form');

/** Vital sign Observations of the patient recorded on this computer (not imported). */
async function recordedVitals(): Promise<number> {
  const db = await desktop.db();
  return (db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation'").pluck().all() as string[])
    .map((j) => JSON.parse(j) as { subject?: { reference?: string }; effectiveDateTime?: string })
    .filter((o) => o.subject?.reference === `Patient/${patient.id}` && String(o.effectiveDateTime) >= new Date(Date.now() - 3_600_000).toISOString()).length;
}

/** The field's error: its text, and that the input is marked invalid and described by it. */
async function errorAt(label: string, key: string): Promise<string> {
  const input = form().getByLabel(label);
  assert.equal(await input.getAttribute('aria-invalid'), 'true', `${label} is marked invalid`);
  const error = form().getByTestId(`error-${key}`);
  const id = await error.getAttribute('id');
  assert.ok((await input.getAttribute('aria-describedby'))!.split(' ').includes(id!), `${label} is described by its error`);
  return error.innerText();
}

test('each implausible vital is marked at its field with the range in words, and nothing is recorded', async () => {
  const before = await recordedVitals();
  await form().getByLabel('Systolic (mmHg)').fill('300');
  await form().getByLabel('Diastolic (mmHg)').fill('80');
  await form().getByLabel('Heart rate (/min)').fill('900');
  await form().getByLabel('Respiratory rate (/min)').fill('2');
  await form().getByLabel('SpO₂ (%)').fill('abc');
  await form().getByLabel('Weight (kg)').fill('500');
  await form().getByRole('button', { name: 'Save vitals' }).click();
  await form().getByTestId('vitals-errors').waitFor();

  assert.equal(await errorAt('Heart rate (/min)', 'heartRate'), 'Heart rate must be between 20 and 300 /min');
  assert.match(await errorAt('Systolic (mmHg)', 'systolic'), /^Systolic must be between 50 and 260 mmHg$/);
  assert.match(await errorAt('Respiratory rate (/min)', 'respiratoryRate'), /^Respiratory rate must be between 4 and 60 \/min$/);
  assert.match(await errorAt('SpO₂ (%)', 'spo2'), /must be between 50 and 100 %$/);
  assert.match(await errorAt('Weight (kg)', 'weight'), /^Weight must be between 0\.3 and 400 kg$/);
  assert.equal(await form().getByLabel('Diastolic (mmHg)').getAttribute('aria-invalid'), null, 'a valid field is not marked');
  const summary = await form().getByTestId('vitals-errors').innerText();
  assert.match(summary, /Heart rate must be between 20 and 300 \/min/);
  assert.equal(await form().getByTestId('vitals-errors').getAttribute('role'), 'alert');
  assert.doesNotMatch(summary, /malformed|whole request/);
  await screenshot(page, 'charting-vitals-errors');
  await expectAccessible(page, 'charting vitals errors');
  assert.equal(await recordedVitals(), before, 'nothing recorded');

  // The same screen in the dark theme: still readable (contrast checked by axe).
  const setTheme = (theme: string | null) =>
    page.evaluate((t) => {
      const root = (globalThis as unknown as { document: { documentElement: { dataset: Record<string, string | undefined> } } }).document.documentElement;
      if (t) root.dataset.theme = t;
      else delete root.dataset.theme;
    }, theme);
  const previous = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { dataset: Record<string, string | undefined> } } }).document.documentElement.dataset.theme ?? null);
  await setTheme('dark');
  await screenshot(page, 'charting-vitals-errors-dark');
  await expectAccessible(page, 'charting vitals errors, dark theme');
  await setTheme(previous);
});

test('text that is not a plain decimal ("0x50", "1e2") is refused at its field, never recorded as 80 or 100; a decimal comma is read', async () => {
  const before = await recordedVitals();
  for (const label of ['Systolic (mmHg)', 'Diastolic (mmHg)', 'Respiratory rate (/min)', 'Weight (kg)']) await form().getByLabel(label).fill('');
  await form().getByLabel('Heart rate (/min)').fill('0x50');
  await form().getByLabel('SpO₂ (%)').fill('1e2');
  await form().getByLabel('Temperature (°C)').fill('37,2');
  await form().getByRole('button', { name: 'Save vitals' }).click();
  await form().getByTestId('vitals-errors').waitFor();
  assert.equal(await errorAt('Heart rate (/min)', 'heartRate'), 'Heart rate must be between 20 and 300 /min');
  assert.match(await errorAt('SpO₂ (%)', 'spo2'), /must be between 50 and 100 %$/);
  assert.equal(await form().getByLabel('Temperature (°C)').getAttribute('aria-invalid'), null, '37,2 is a number');
  assert.equal(await recordedVitals(), before, 'nothing recorded');
  assert.equal(await form().getByTestId('fahrenheit-offer').count(), 0, 'no °F offer for 37,2');
  await form().getByLabel('Temperature (°C)').fill('1e2');
  assert.equal(await form().getByTestId('fahrenheit-offer').count(), 0, '"1e2" is not offered as 100 °F');
  await form().getByLabel('Temperature (°C)').fill('');
  await form().getByLabel('Heart rate (/min)').fill('');
  await form().getByLabel('SpO₂ (%)').fill('');
});

test('a °F temperature in the °C field is recognised and offered as a conversion', async () => {
  for (const label of ['Systolic (mmHg)', 'Diastolic (mmHg)', 'Heart rate (/min)', 'Respiratory rate (/min)', 'SpO₂ (%)', 'Weight (kg)']) await form().getByLabel(label).fill('');
  await form().getByLabel('Temperature (°C)').fill('101.3');
  const offer = form().getByTestId('fahrenheit-offer');
  await offer.waitFor();
  assert.match(await offer.innerText(), /101\.3 looks like °F = 38\.5 °C\./);
  await screenshot(page, 'charting-vitals-fahrenheit');
  await offer.getByRole('button', { name: 'Use 38.5 °C?' }).click();
  assert.equal(await form().getByLabel('Temperature (°C)').inputValue(), '38.5');
  await offer.waitFor({ state: 'detached' });
  // 37 is a °C value: nothing offered.
  await form().getByLabel('Temperature (°C)').fill('37');
  assert.equal(await form().getByTestId('fahrenheit-offer').count(), 0);
  await form().getByLabel('Temperature (°C)').fill('38.5');
});

test('vitals already sent say so when Undo is asked; saved vitals not yet sent are undone', async () => {
  // Online: the vitals leave at once, and Undo says they went.
  const before = await recordedVitals();
  await form().getByLabel('Heart rate (/min)').fill('88');
  await form().getByRole('button', { name: 'Save vitals' }).click();
  const line = page.getByTestId('vitals-form').getByTestId('undo-line');
  await line.getByText('Vitals saved.').waitFor();
  assert.equal(await recordedVitals(), before + 2, 'temperature and heart rate recorded');
  assert.equal(await form().getByLabel('Heart rate (/min)').inputValue(), '', 'the form is cleared');
  // Until the outbox is empty (the status line may still show the "All changes sent" from before the save).
  const outbox = async () => (await desktop.db()).prepare('SELECT count(*) FROM outbox').pluck().get() as number;
  for (const deadline = Date.now() + 20_000; (await outbox()) > 0; ) {
    assert.ok(Date.now() < deadline, 'the vitals were sent');
    await page.evaluate(() => new Promise((resolve) => (globalThis as unknown as { requestAnimationFrame(f: () => void): void }).requestAnimationFrame(() => resolve(null))));
  }
  await page.getByTestId('sync-waiting').getByText(/All changes (sent|saved)/).waitFor({ timeout: 20_000 });
  await line.getByRole('button', { name: 'Undo' }).click();
  await line.getByText(/already (sent|reached|answered)|being sent/).waitFor();
  assert.equal(await recordedVitals(), before + 2, 'the sent vitals stay');

  // Nothing leaves this computer (the sync worker stopped, as while offline): Undo takes the vitals back.
  await desktop.auth.stopSync();
  await form().getByLabel('Heart rate (/min)').fill('90');
  await form().getByRole('button', { name: 'Save vitals' }).click();
  await line.getByText('Vitals saved.').waitFor();
  assert.equal(await recordedVitals(), before + 3);
  await screenshot(page, 'charting-vitals-undo');
  await line.getByRole('button', { name: 'Undo' }).click();
  await line.getByText(/Undone/).waitFor();
  assert.equal(await recordedVitals(), before + 2, 'taken back');
});
