/**
 * Charting through a network outage, in Chromium against the real backend
 * behind a TCP proxy: sign in, the network drops (the proxy goes down), the
 * clinician records vitals and writes and signs a note, sees them waiting,
 * the network comes back, and they sync without anyone touching anything.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import type { BackendProcess } from '../support/backend-process';
import type { TcpProxy } from '../support/tcp-proxy';
import { loadFixturePatients } from '../support/synthea';
import { screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const patient = loadFixturePatients()[0]!;
const keychain = testKeychain();
const dir = scratchDir('offline-charting');
let desktop: EnrolledDesktop;
let backend: BackendProcess;
let proxy: TcpProxy;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain);
  ({ backend, proxy, page } = desktop);
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

function serverResource(type: string, predicate: (r: Record<string, unknown>) => boolean) {
  const db = new SQLite(join(backend.dataDir, 'backend.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT json, version_id FROM resources WHERE resource_type = ?').all(type) as Array<{ json: string; version_id: number }>;
    return rows.map((r): Record<string, unknown> => ({ ...(JSON.parse(r.json) as Record<string, unknown>), _version: r.version_id })).filter(predicate);
  } finally {
    db.close();
  }
}

test('vitals and a signed note written offline wait safely, then sync by themselves when the network returns', async () => {
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('tab', { name: 'Write' }).click();
  await page.getByTestId('charting').waitFor();
  await page.getByTestId('sync-waiting').getByText(/All changes (sent|saved)/).waitFor();

  // The network drops.
  proxy.down = true;
  proxy.cutAll();

  await page.getByLabel('Systolic (mmHg)').fill('128');
  await page.getByLabel('Diastolic (mmHg)').fill('82');
  await page.getByLabel('Heart rate (/min)').fill('74');
  await page.getByRole('button', { name: 'Save vitals' }).click();
  await page.getByTestId('vitals-form').getByTestId('undo-line').getByText('Vitals saved.').waitFor();

  await page.locator('textarea[name=subjective]').fill('Feels better, no fever since yesterday.');
  await page.locator('textarea[name=assessment]').fill('Resolving viral illness.');
  await page.locator('textarea[name=plan]').fill('Review in one week.');
  await page.getByRole('button', { name: 'Sign note…' }).click();
  await page.getByTestId('sign-confirm-confirm').click();
  await page.getByTestId('charting-message').getByText('Note signed.').waitFor();

  // Implausible vitals are refused with a clear message and nothing is queued.
  await page.getByLabel('Heart rate (/min)').fill('900');
  await page.getByRole('button', { name: 'Save vitals' }).click();
  assert.equal(await page.getByTestId('error-heartRate').innerText(), 'Heart rate must be between 20 and 300 /min');
  await page.getByLabel('Heart rate (/min)').fill('');

  await page.getByTestId('sync-waiting').getByText(/^4 (changes )?waiting/).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('sync-online').innerText(), 'Offline');
  await screenshot(page, '20-offline-waiting');
  assert.equal(serverResource('Composition', () => true).length, 0, 'nothing reached the backend yet');

  // The network returns; nobody touches anything.
  const back = Date.now();
  proxy.down = false;
  await page.getByTestId('sync-waiting').getByText(/All changes (sent|saved)/).waitFor({ timeout: 15_000 });
  const seconds = (Date.now() - back) / 1000;
  assert.equal(await page.getByTestId('sync-online').innerText(), 'Online');
  await screenshot(page, '21-synced');

  const notes = serverResource('Composition', (r) => (r.subject as { reference: string }).reference === `Patient/${patient.id}`);
  assert.equal(notes.length, 1);
  assert.equal(notes[0]!.status, 'final');
  assert.equal(notes[0]!._version, 2, 'draft then signed: two versions, in order');
  const vitals = serverResource('Observation', (r) => (r.subject as { reference: string }).reference === `Patient/${patient.id}` && (r.meta as { versionId?: string } | undefined)?.versionId === '1' && r.effectiveDateTime !== undefined && String(r.effectiveDateTime) > '2026');
  assert.equal(vitals.length, 2, 'blood pressure panel and heart rate');
  assert.ok(seconds < 10, `synced ${seconds}s after the network returned`);

  // The audit trail of what was done offline reached the backend too, chained and vouched for.
  const db = new SQLite(join(backend.dataDir, 'backend.db'), { readonly: true });
  try {
    const uploaded = db.prepare('SELECT count(*) FROM audit_entries').pluck().get() as number;
    const local = (await desktop.db()).prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
    assert.ok(uploaded >= local - 2, `audit entries uploaded (${uploaded} of ${local})`);
    const reads = (network: string) =>
      db.prepare("SELECT count(*) FROM audit_entries WHERE patient_id = ? AND entry LIKE '%\"R\",\"read\"%' AND event LIKE ?").pluck().get(patient.id, `%"valueCode":"${network}"%`) as number;
    assert.ok(reads('offline') >= 1, 'the chart reads made offline are in the backend\'s audit trail, marked offline');
    assert.ok(reads('online') >= 1, 'and those made online are marked online');
  } finally {
    db.close();
  }
});
