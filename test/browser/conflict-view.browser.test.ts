/**
 * The problem list and the conflict view in Chromium, against the real
 * backend behind a TCP proxy: the clinician adds a problem, the OS reports
 * the network gone (the status turns Offline from the event alone), the
 * clinician changes the problem's status while another device changes it
 * too, the network returns, and the sync status offers the conflict; the
 * view shows both versions side by side, "Keep mine" sends the clinician's
 * version on top of the other, and the choice is audited.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../../electron/services/cache-session';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import type { BackendProcess } from '../support/backend-process';
import { registerDeviceAt } from '../support/backend-db';
import { backendSnapshot } from '../support/backend-state';
import type { TcpProxy } from '../support/tcp-proxy';
import { loadFixturePatients } from '../support/synthea';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const patient = loadFixturePatients()[0]!;
const keychain = testKeychain();
const dir = scratchDir('conflict-view');
let desktop: EnrolledDesktop;
let backend: BackendProcess;
let proxy: TcpProxy;
let page: Page;
let auth: AuthService;
let otherDevice: CacheSession;
let otherToken: string;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain);
  ({ backend, proxy, page, auth } = desktop);
  // Dr Kim's other computer, straight to the backend.
  otherDevice = await openCacheSession({ dataDir: join(dir.path, 'other'), secrets: keychain, actor: 'dr.kim', create: true });
  otherToken = await registerDeviceAt(backend, 'dr.kim', otherDevice);
});

after(async () => {
  await otherDevice?.close();
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

test('a problem changed here and elsewhere while offline: both versions side by side, "Keep mine" wins and is audited', async () => {
  await page.locator('#patient-search').fill(patient.given.slice(0, 5));
  await page.getByTestId('patient-result').first().waitFor();
  await page.keyboard.press('Enter');
  await page.getByTestId('problems').waitFor();

  // Add a problem from the problem list.
  await page.getByLabel('New problem', { exact: true }).fill('Essential hypertension');
  await page.getByLabel('Status of the new problem').selectOption('active');
  await page.getByRole('button', { name: 'Add problem' }).click();
  const status = page.getByLabel('Status of Essential hypertension');
  await status.waitFor();
  assert.equal(await status.inputValue(), 'active');
  await page.getByTestId('sync-waiting').getByText('All changes sent').waitFor({ timeout: 10_000 });
  const db = await desktop.db();
  const conditionId = db.prepare("SELECT id FROM resources WHERE resource_type = 'Condition' AND json LIKE '%Essential hypertension%'").pluck().get() as string;
  assert.ok(conditionId);

  // The OS reports the network gone: the status says so from the event alone, before any request fails.
  await page.context().setOffline(true);
  await page.getByTestId('sync-online').getByText('Offline').waitFor({ timeout: 5000 });
  proxy.down = true;
  proxy.cutAll();

  // Offline here, the clinician changes the status; meanwhile the other computer changes it too.
  await status.selectOption('inactive');
  await page.locator(`[data-condition="${conditionId}"]`).getByRole('button', { name: 'Save change' }).click();
  await page.getByTestId('problem-confirm-confirm').click();
  await page.getByTestId('sync-waiting').getByText('1 waiting').waitFor({ timeout: 5000 });
  const theirs = { ...(JSON.parse(db.prepare("SELECT json FROM resources WHERE resource_type = 'Condition' AND id = ?").pluck().get(conditionId) as string) as Record<string, unknown>) };
  theirs.clinicalStatus = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] };
  const pushed = await new BackendClient(backend.url).push(otherToken, [
    { idempotencyKey: randomUUID(), resourceType: 'Condition', id: conditionId, baseVersion: '1', resource: theirs as { resourceType: string; id: string } },
  ]);
  assert.equal(pushed.results[0]!.status, 'applied');

  // The network returns; the sync status offers the conflict.
  proxy.down = false;
  await page.context().setOffline(false);
  await page.getByTestId('sync-conflicts').getByText('1 to resolve').waitFor({ timeout: 15_000 });
  await page.getByTestId('sync-online').getByText('Online').waitFor({ timeout: 5000 });
  await page.getByTestId('sync-conflicts').click();
  await page.getByTestId('conflict').waitFor();
  // The view names whose record it is and the field that differs, in words.
  assert.equal(await page.getByTestId('conflict-patient').innerText(), `${patient.given} ${patient.family}`);
  assert.match(await page.getByTestId('conflict').locator('h3').innerText(), /problem “Essential hypertension”/);
  assert.equal(await page.getByTestId('conflict-fields').innerText(), 'Differs in: Clinical status.');
  assert.doesNotMatch(await page.getByTestId('conflict').innerText(), /Patient\//, 'no raw references');
  await expectAccessible(page, 'conflict view');
  const differing = await page.getByTestId('conflict-diff').allInnerTexts();
  assert.equal(differing.length, 1, `only the status differs: ${differing.join(' | ')}`);
  assert.equal(await page.getByTestId('conflict-mine').innerText(), 'Inactive');
  assert.equal(await page.getByTestId('conflict-theirs').innerText(), 'Resolved');
  await screenshot(page, 'shell-18-conflict-view');

  await page.getByRole('button', { name: 'Keep mine' }).click();
  await page.getByTestId('conflicts-none').waitFor();
  await page.getByTestId('sync-waiting').getByText('All changes sent').waitFor({ timeout: 15_000 });
  // Esc closes the conflict view only: the chart stays open.
  await page.keyboard.press('Escape');
  await page.getByTestId('conflict-panel').waitFor({ state: 'detached' });
  await page.getByTestId('chart').waitFor();
  assert.equal(await page.getByLabel('Status of Essential hypertension').inputValue(), 'inactive');
  await page.getByTestId('sync-conflicts').waitFor({ state: 'detached', timeout: 5000 });

  const server = await backendSnapshot(backend, auth.session()!.profile.profileId, 'Condition');
  const stored = server.resources.get(conditionId)!;
  assert.equal(stored.version, 3, 'added, changed elsewhere, then the clinician\'s choice');
  assert.equal((stored.resource.clinicalStatus as { coding: Array<{ code: string }> }).coding[0]!.code, 'inactive');
  const choices = db.prepare("SELECT count(*) FROM audit_log WHERE subtype = 'conflict-keep-mine' AND patient_id = ?").pluck().get(patient.id);
  assert.equal(choices, 1, 'the choice is in the audit trail');
});
