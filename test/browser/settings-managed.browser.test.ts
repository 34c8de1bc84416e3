/**
 * The settings screen shows what IT manages, in Chromium against the app's
 * handler registry and a real encrypted cache: each managed setting with its
 * label, its value in words (On/Off, never raw JSON) and its source; a value
 * IT set that was refused shows its problem line; where the policy came from
 * shows once; a theme IT forces is disabled with "Set by your organisation"
 * and cannot be changed; nothing scrolls sideways at 1366x768 or 683x384
 * (200 % zoom); axe finds nothing serious.
 *
 * The SettingsSurface here is a small in-test implementation of the
 * interface (electron/services/app-surfaces.ts) until the policy engineer's
 * createSettingsSurface is committed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { SettingsSurface } from '../../electron/services/app-surfaces';
import type { SettingView } from '../../shared/contract';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { managedDesktop, type ManagedDesktop } from './managed-desktop';

const POLICY_SOURCE = '/etc/clinician-desktop/policy.json';

/** What a policy file { backendUrl, consultScreenShare: true, updatesEnabled: "yes", theme: "dark" } gives. */
function policySettings(): SettingsSurface {
  const settings: SettingView[] = [
    { name: 'backendUrl', label: 'Backend server', value: 'https://records.example-hospital.org', source: 'policy', managed: true, problem: null },
    { name: 'consultScreenShare', label: 'Screen sharing in consultations', value: true, source: 'policy', managed: true, problem: null },
    { name: 'updatesEnabled', label: 'Automatic updates', value: true, source: 'default', managed: true, problem: 'must be true or false' },
    { name: 'theme', label: 'Theme', value: 'dark', source: 'policy', managed: true, problem: null },
    { name: 'density', label: 'Density', value: 'system', source: 'user', managed: false, problem: null },
    { name: 'updateTargetVersion', label: 'Pinned version', value: null, source: 'default', managed: false, problem: null },
  ];
  return { list: () => ({ settings, policySource: POLICY_SOURCE }) };
}

let desktop: ManagedDesktop;

before(async () => {
  desktop = await managedDesktop('settings-managed');
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
  assert.equal(await row('backendUrl').getByTestId('managed-value').textContent(), 'https://records.example-hospital.org');
  assert.equal(await row('theme').getByTestId('managed-value').textContent(), 'Dark', 'an enum value in the words the screen uses');
  assert.match((await row('backendUrl').locator('.managed-source').textContent())!, /Set by your organisation \(IT policy/);
  for (const value of await page.getByTestId('managed-value').allTextContents()) {
    assert.doesNotMatch(value, /^(true|false|null)$|[{}"]/, `no raw JSON value on screen (${value})`);
  }
  assert.equal(await page.getByText(POLICY_SOURCE).count(), 1, 'where the policy came from is shown once');
  await screenshot(page, 'settings-managed-1366');
  await page.close();
});

test("a value IT set that was refused shows its problem line: IT's value was not valid, the safest value is used", async () => {
  const page = await desktop.open({ settings: policySettings() });
  await openSettings(page);
  const problems = page.getByTestId('managed-problem');
  assert.equal(await problems.count(), 1, 'one problem line, for the refused value only');
  const line = (await problems.textContent())!;
  assert.equal(line, "IT's value for Automatic updates was not valid (must be true or false); the safest value is used: On.", 'what was wrong, in words, and the value used');
  assert.ok(await page.locator('[data-setting=updatesEnabled] [data-testid=managed-problem]').isVisible(), 'the problem line is visible under its setting');
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

test('without a forced theme every choice is enabled and no setting is listed as managed', async () => {
  const page = await desktop.open({ settings: { list: () => ({ settings: [], policySource: 'none' }) } });
  await openSettings(page);
  assert.equal(await page.getByTestId('theme-fieldset').evaluate((f) => (f as unknown as { disabled: boolean }).disabled), false);
  assert.equal(await page.getByTestId('managed-setting').count(), 0);
  assert.match((await page.getByTestId('managed-settings').textContent())!, /manages no settings on this computer/);
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
