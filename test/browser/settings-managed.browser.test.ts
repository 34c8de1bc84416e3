/**
 * The settings screen shows what IT manages, in Chromium against the app's
 * handler registry and a real encrypted cache: each managed setting with its
 * label, its value in words (On/Off, never raw JSON) and its source; a value
 * IT set that was refused shows its problem line; where the policy came from
 * shows once; a theme IT forces is disabled with "Set by your organisation"
 * and cannot be changed; nothing scrolls sideways at 1366x768 or 683x384
 * (200 % zoom); axe finds nothing serious.
 *
 * The settings come from the app's own settings surface
 * (createSettingsSurface) over a real policy file read by the Linux policy
 * reader (root-owned, in a scratch folder), with the clinician's own
 * density choice as the user layer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { SettingsSurface } from '../../electron/services/app-surfaces';
import { createSettingsSurface } from '../../electron/services/policy/effective-settings';
import { readLinuxPolicyFile } from '../../electron/services/policy/linux-policy-file';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { managedDesktop, type ManagedDesktop } from './managed-desktop';

/** IT's policy file (root-owned, 0644, in a 0755 folder), as /etc/clinician-desktop/policy.json would be. */
function writePolicy(name: string, values: Record<string, unknown>): string {
  const folder = join(desktop.dir, name);
  mkdirSync(folder, { mode: 0o755 });
  chmodSync(folder, 0o755);
  const file = join(folder, 'policy.json');
  writeFileSync(file, JSON.stringify(values), { mode: 0o644 });
  chmodSync(file, 0o644);
  return file;
}

let policyFile: string;

/** The app's settings surface over IT's policy file, with the clinician's density choice. */
function policySettings(file = policyFile): SettingsSurface {
  return createSettingsSurface({ policy: readLinuxPolicyFile(file), user: () => ({ density: 'compact' }) });
}

let desktop: ManagedDesktop;

before(async () => {
  desktop = await managedDesktop('settings-managed');
  policyFile = writePolicy('etc', { backendUrl: 'https://records.example-hospital.org/', consultScreenShare: true, updatesEnabled: 'yes', theme: 'dark' });
  assert.equal(process.getuid?.(), 0, 'the policy reader accepts root-owned files only: this test runs as root');
});

after(async () => {
  await desktop?.close();
});

async function openSettings(page: Page): Promise<void> {
  await page.getByTestId('settings-button').click();
  await page.getByTestId('managed-settings').waitFor();
}

async function noSidewaysScroll(page: Page, what: string): Promise<void> {
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `${what}: no horizontal page scroll (${sideways}px)`);
  const dialogSideways = (await page.getByTestId('settings-dialog').evaluate((d) => d.scrollWidth - d.clientWidth)) as number;
  assert.ok(dialogSideways <= 0, `${what}: no horizontal scroll inside the dialog (${dialogSideways}px)`);
}

test('Settings lists each managed setting with its label, its value in words and its source, and the policy source once', async () => {
  const page = await desktop.open({ settings: policySettings() });
  await openSettings(page);
  const managed = page.getByTestId('managed-setting');
  assert.deepEqual(
    await managed.evaluateAll((els) => els.map((e) => e.getAttribute('data-setting'))),
    ['backendUrl', 'consultScreenShare', 'updatesEnabled', 'theme'],
    'only what IT manages is listed (not the user\'s density, not an unset default)',
  );
  const row = (name: string) => page.locator(`[data-testid=managed-setting][data-setting=${name}]`);
  assert.equal(await row('consultScreenShare').locator('.managed-label').textContent(), 'Screen sharing in consultations');
  assert.equal(await row('consultScreenShare').getByTestId('managed-value').textContent(), 'On', 'a boolean in words');
  assert.equal(await row('backendUrl').getByTestId('managed-value').textContent(), 'https://records.example-hospital.org/');
  assert.equal(await row('theme').getByTestId('managed-value').textContent(), 'Dark', 'an enum value in the words the screen uses');
  assert.match((await row('backendUrl').locator('.managed-source').textContent())!, /Set by your organisation \(IT policy/);
  for (const value of await page.getByTestId('managed-value').allTextContents()) {
    assert.doesNotMatch(value, /^(true|false|null)$|[{}"]/, `no raw JSON value on screen (${value})`);
  }
  assert.equal(await page.getByTestId('policy-source').textContent(), `Policy from: ${policyFile}`);
  assert.equal(await page.getByText(policyFile).count(), 1, 'where the policy came from is shown once');
  await screenshot(page, 'settings-managed-1366');
  await page.close();
});

test("a value IT set that was refused shows its problem line: IT's value was not valid, the safest value is used", async () => {
  const page = await desktop.open({ settings: policySettings() });
  await openSettings(page);
  const problems = page.getByTestId('managed-problem');
  assert.equal(await problems.count(), 1, 'one problem line, for the refused value only');
  const line = (await problems.textContent())!;
  assert.equal(line, "IT's value for Automatic updates was not valid (updatesEnabled must be true or false, not text); the safest value is used: On.", 'what was wrong, in words (never IT\'s value), and the value used');
  assert.ok(await page.locator('[data-setting=updatesEnabled] [data-testid=managed-problem]').isVisible(), 'the problem line is visible under its setting');
  await page.close();
});

test('a policy file others may write is refused: nothing in it is managed, and Settings says so', async () => {
  const file = writePolicy('writable', { consultScreenShare: true, theme: 'dark' });
  chmodSync(file, 0o666);
  const page = await desktop.open({ settings: policySettings(file) });
  await openSettings(page);
  assert.equal(await page.getByTestId('managed-setting').count(), 0, 'nothing from a refused file is used');
  assert.equal(await page.getByTestId('policy-source').textContent(), `Policy from: ${file} (refused: not used)`);
  assert.equal(await page.getByTestId('theme-fieldset').evaluate((f) => (f as unknown as { disabled: boolean }).disabled), false);
  await page.close();
});

test('a theme IT forces is disabled with "Set by your organisation"; the density the user may choose stays enabled', async () => {
  const page = await desktop.open({ settings: policySettings() });
  await openSettings(page);
  const theme = page.getByTestId('theme-fieldset');
  assert.equal(await theme.evaluate((f) => (f as unknown as { disabled: boolean }).disabled), true, 'the theme choice is disabled');
  assert.equal(await theme.getByText('Set by your organisation').count(), 1);
  assert.equal(await theme.getByRole('radio', { name: 'Dark' }).isChecked(), true, "IT's value is the one shown");
  for (const radio of await theme.getByRole('radio').all()) assert.equal(await radio.isDisabled(), true, 'every theme option is disabled');
  assert.equal(await theme.getByRole('radio', { name: 'Light' }).evaluate((r) => r.getAttribute('aria-describedby') === null), true);
  // Screen readers hear why: the fieldset is described by the note.
  assert.equal(await theme.getAttribute('aria-describedby'), 'theme-forced');
  await theme.getByRole('radio', { name: 'Light' }).click({ force: true });
  assert.equal(await theme.getByRole('radio', { name: 'Dark' }).isChecked(), true, 'a click on a forced theme changes nothing');
  const density = page.getByTestId('density-fieldset');
  assert.equal(await density.evaluate((f) => (f as unknown as { disabled: boolean }).disabled), false, 'density is the user\'s to choose');
  assert.equal(await density.getByText('Set by your organisation').count(), 0);
  await page.close();
});

test('without a policy file every choice is enabled, no setting is listed as managed, and Settings says there is no policy', async () => {
  const absent = join(desktop.dir, 'etc', 'absent.json');
  const page = await desktop.open({ settings: policySettings(absent) });
  await openSettings(page);
  assert.equal(await page.getByTestId('theme-fieldset').evaluate((f) => (f as unknown as { disabled: boolean }).disabled), false);
  assert.equal(await page.getByTestId('managed-setting').count(), 0);
  assert.match((await page.getByTestId('managed-settings').textContent())!, /manages no settings on this computer/);
  assert.equal(await page.getByTestId('policy-source').textContent(), `Policy from: none (${absent} is not set)`);
  await page.close();
});

test('Settings with managed values: no sideways scroll at 1366x768 and at 200 % zoom (683x384), axe clean', async () => {
  const page = await desktop.open({ settings: policySettings() });
  await openSettings(page);
  await noSidewaysScroll(page, '1366x768');
  await expectAccessible(page, 'settings with managed values');
  await page.setViewportSize({ width: 683, height: 384 });
  await noSidewaysScroll(page, '683x384');
  await expectAccessible(page, 'settings with managed values at 200 %');
  const close = page.getByTestId('settings-dialog').getByRole('button', { name: 'Close' });
  const box = (await close.boundingBox())!;
  assert.ok(box.x + box.width <= 683 && box.y >= 0, "the dialog's Close is on screen at 200 %");
  await page.getByTestId('managed-problem').scrollIntoViewIfNeeded();
  await screenshot(page, 'settings-managed-200pct');
  await page.close();
});
