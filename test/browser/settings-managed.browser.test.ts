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

/** The app's settings surface whose settings.list, once `slow` is set, answers only at `answer()` (main still reading the policy when Settings opens). */
function slowSettings(file: string): { surface: SettingsSurface; slow: boolean; answer(): void } {
  const inner = policySettings(file);
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  const gate = { slow: false, answer: () => answer(), surface: inner };
  // The registry awaits what a surface returns: a promise stands for a list still on its way.
  gate.surface = { list: () => (gate.slow ? (answered.then(() => inner.list()) as unknown as ReturnType<SettingsSurface['list']>) : inner.list()) };
  return gate;
}

const focused = (page: Page) =>
  page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    if (!a || a === document.body) return 'body';
    return `${a.tagName.toLowerCase()}${a.getAttribute('name') ? `[name=${a.getAttribute('name')}]` : ''}${a.tagName === 'INPUT' ? `=${(a as HTMLInputElement).value}` : ` "${a.textContent}"`}${(a as HTMLInputElement).disabled ? ' (disabled)' : ''}`;
  });

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
  // What was wrong is main's sentence (it names the setting); the screen adds only the frame and the value used.
  assert.match(line, /^IT's value was not valid: Automatic updates \(updatesEnabled\) must be .*\. The safest value is used: On\.$/, `what was wrong, in words, and the value used (${line})`);
  assert.doesNotMatch(line, /yes/, "never IT's refused value");
  assert.doesNotMatch(line, /\.\.|;\s*the safest value is used/i, 'the consequence said once, clean punctuation');
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
  const problems = await page.getByTestId('policy-problem').allTextContents();
  assert.ok(problems.length >= 1 && problems.some((p) => /writ/i.test(p)), `why the file was refused is said under the source (${JSON.stringify(problems)})`);
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

test('opening Settings while IT forces the theme: focus lands on the first enabled control once the list answers (never <body>); a click before the answer changes nothing', async () => {
  const file = writePolicy('forced-theme', { theme: 'dark' });
  const slow = slowSettings(file);
  const page = await desktop.open({ settings: slow.surface });
  // The settings list reads the workspace from the store's worker: IT's theme arrives with its answer (a timeout fails the test).
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', "IT's theme at load");
  slow.slow = true;
  await page.getByTestId('settings-button').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('settings-dialog').waitFor();
  const before = await focused(page);
  assert.doesNotMatch(before, /^body$|disabled|name=theme/, `before the list answers focus is on an enabled control, not a theme choice (${before})`);
  for (const radio of await page.getByTestId('theme-fieldset').getByRole('radio').all()) assert.equal(await radio.isDisabled(), true, 'theme choices wait for the list');
  await page.getByTestId('theme-fieldset').getByRole('radio', { name: 'Light' }).click({ force: true });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'a click before the answer does not change the page theme IT forces');
  slow.answer();
  await page.getByTestId('managed-settings').waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'density');
  assert.match(await focused(page), /^input\[name=density\]=\w+$/, 'focus on the density choice, the first one the clinician may change');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  assert.equal(await page.getByTestId('theme-fieldset').getByRole('radio', { name: 'Dark' }).isChecked(), true);
  await page.close();
});

test('opening Settings while IT forces theme and density: focus on Close, and PageDown scrolls the dialog at 683x384', async () => {
  const file = writePolicy('forced-both', { theme: 'dark', density: 'comfortable', backendUrl: 'https://records.example-hospital.org/' });
  const page = await desktop.open({ settings: policySettings(file) });
  await page.setViewportSize({ width: 683, height: 384 });
  await page.getByTestId('settings-button').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('managed-settings').waitFor();
  await page.waitForFunction(() => document.activeElement !== document.body && !(document.activeElement as HTMLInputElement).disabled);
  assert.equal(await focused(page), 'button "Close"', 'nothing to choose: focus on Close');
  const dialog = page.getByTestId('settings-dialog');
  const top = await dialog.evaluate((d) => d.scrollTop);
  await page.keyboard.press('PageDown');
  await page.waitForFunction((t) => (document.querySelector('[data-testid=settings-dialog]') as HTMLElement).scrollTop > t, top);
  await page.close();
});

test('long values IT set: labels keep their width and values wrap in full, at 1366x768 and 683x384', async () => {
  const backendUrl = 'https://clinical-records-backend.north-region.example-hospital.nhs.uk/api/v2/';
  const updateUrl = 'https://software-updates.north-region.example-hospital.nhs.uk/clinician-desktop/';
  assert.ok(backendUrl.length >= 74);
  const file = writePolicy('long-values', { backendUrl, updateUrl, consultScreenShare: true });
  const page = await desktop.open({ settings: policySettings(file) });
  await openSettings(page);
  for (const viewport of [{ width: 1366, height: 768 }, { width: 683, height: 384 }]) {
    await page.setViewportSize(viewport);
    for (const name of ['backendUrl', 'updateUrl']) {
      const row = page.locator(`[data-testid=managed-setting][data-setting=${name}]`);
      const label = await row.locator('.managed-label').evaluate((e) => {
        const range = document.createRange();
        range.selectNodeContents(e);
        return { width: e.getBoundingClientRect().width, lines: new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size, text: e.textContent };
      });
      assert.ok(label.width >= 100 && label.lines === 1, `${viewport.width}: "${label.text}" keeps its width, on one line (${JSON.stringify(label)})`);
      const value = await row.getByTestId('managed-value').evaluate((e) => ({ cut: e.scrollWidth > e.clientWidth + 0.5, right: e.getBoundingClientRect().right, text: (e as HTMLElement).innerText.replace(/\s/g, '') }));
      const shown = name === 'backendUrl' ? backendUrl : updateUrl;
      assert.ok(!value.cut && value.right <= viewport.width, `${viewport.width}: the ${name} value is shown whole`);
      assert.equal(value.text, shown, 'the whole value, wrapped, nothing elided');
    }
    await noSidewaysScroll(page, `${viewport.width} long values`);
    await expectAccessible(page, `settings with long values at ${viewport.width}`);
    await page.getByTestId('managed-setting').first().scrollIntoViewIfNeeded();
    await screenshot(page, `settings-managed-long-${viewport.width}`);
  }
  await page.close();
});
