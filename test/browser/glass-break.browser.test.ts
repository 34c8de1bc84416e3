/**
 * Break the glass in Chromium at 1366x768, by keyboard alone, against the
 * real services (enrolled desktop: the real backend process, the app's
 * AuthService, the glass surface in the same registry the app builds): a
 * patient the clinician is not assigned shows under the search as a
 * restricted match and nothing more; Enter opens the reason dialog; Esc
 * keeps what was typed; the grant opens the chart with the emergency-access
 * banner; offline, the search says emergency access needs the network.
 * axe-core on the list, the dialog and the chart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { createGlassSurface, guardedByGlass, GLASS_OFFLINE_MESSAGE, type GlassService } from '../../electron/services/glass/glass-surface';
import { RESTRICTED_LABEL } from '../../shared/glass-api';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { syntheticPatientBundle } from '../support/synthetic-bundles';
import { expectAccessible } from './axe';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const keychain = testKeychain();
const dir = scratchDir('glass-browser');
const RESTRICTED = 'gd-browser-0042';
const FAMILY = 'Testfamily0042';
let desktop: EnrolledDesktop;
let page: Page;
let glass: GlassService;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The focused element's test id, or its tag. */
const focused = () =>
  page.evaluate(() => {
    const el = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; tagName: string; id: string } | null } }).document.activeElement;
    return el ? (el.getAttribute('data-testid') ?? (el.id || el.tagName.toLowerCase())) : null;
  });

const noSidewaysScroll = () =>
  page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return root.scrollWidth <= root.clientWidth;
  });

before(async () => {
  const bundles = join(dir.path, 'bundles');
  mkdirSync(bundles);
  writeFileSync(join(bundles, `${RESTRICTED}.json`), JSON.stringify(syntheticPatientBundle({ patientId: RESTRICTED, observations: 3 })));
  desktop = await enrolledDesktop(dir.path, keychain, {
    backendFlags: ['--bundles', bundles],
    registry: (auth, backend) => {
      glass = createGlassSurface({
        session: () => auth.session(),
        passkeyToken: () => (auth.desktop.hasPasskeySession() ? auth.desktop.currentToken() : null),
        online: () => auth.syncState().online,
        backend,
        checkEveryMs: 0,
      });
      return createHandlerRegistry(guardedByGlass(auth, glass), auth, { glass });
    },
  });
  page = desktop.page;
  // The patient is no longer assigned to dr.kim: the next sync takes it off this computer.
  desktop.backend.admin(['unassign', 'dr.kim', RESTRICTED]);
  desktop.auth.nudgeSync();
  await until(async () => desktop.auth.session() !== null && (await desktop.db()).prepare('SELECT count(*) FROM patients WHERE id = ?').pluck().get(RESTRICTED) === 0, 'the unassigned patient left the cache');
});

after(async () => {
  glass?.stop();
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

test('a restricted match under the search, the reason dialog (Esc keeps the text), then the chart with its emergency banner, keyboard only', async () => {
  await page.keyboard.press('/');
  assert.equal(await focused(), 'patient-search');
  await page.keyboard.type(FAMILY);
  const restricted = page.getByTestId('restricted-result');
  await restricted.waitFor();
  assert.equal(await restricted.count(), 1);
  const row = await restricted.innerText();
  assert.ok(row.includes(RESTRICTED_LABEL) && !row.includes(FAMILY) && !row.includes(RESTRICTED), 'that the patient exists, nothing more');
  assert.equal(await page.getByTestId('patient-result').count(), 0, 'not among the clinician\'s own');
  assert.equal(await page.locator('#patient-search').getAttribute('aria-activedescendant'), 'restricted-0');
  assert.ok(await noSidewaysScroll());
  await expectAccessible(page, 'search with a restricted match');

  // Enter opens the dialog; the first reason has the focus.
  await page.keyboard.press('Enter');
  const dialog = page.getByTestId('glass-dialog');
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } } }).document.activeElement.getAttribute('value')), 'emergency-treatment');
  await expectAccessible(page, 'break-the-glass dialog');
  // Submitting 'Other' without words is refused at the field, nothing asked of the server.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await dialog.locator('input[value=other]').isChecked(), true);
  await page.keyboard.press('Enter');
  await dialog.getByText('Say why, in a few words.').waitFor();
  assert.equal(await focused(), 'glass-reason-text', 'the focus goes to the field that needs words');
  assert.equal(await page.getByTestId('glass-banner').count(), 0);
  await page.keyboard.type('Collapsed in the corridor');
  // Esc closes the dialog only; the search keeps its query and the text waits for the next opening.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await focused(), 'patient-search');
  assert.equal(await page.locator('#patient-search').inputValue(), FAMILY);
  await restricted.waitFor();
  await page.keyboard.press('Enter');
  await dialog.waitFor();
  assert.equal(await page.getByTestId('glass-reason-text').inputValue(), 'Collapsed in the corridor');
  assert.equal(await dialog.locator('input[value=other]').isChecked(), true);

  // Tab to the dialog's submit and press Enter.
  for (let i = 0; i < 6 && (await focused()) !== 'glass-submit'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'glass-submit');
  await page.keyboard.press('Enter');

  const banner = page.getByTestId('glass-banner');
  await banner.waitFor();
  assert.match(await banner.innerText(), /^Emergency access until \d\d:\d\d — every action is recorded and reviewed$/);
  assert.match(await page.getByTestId('chart').getAttribute('aria-label') ?? '', new RegExp(FAMILY));
  assert.ok(await noSidewaysScroll());
  await expectAccessible(page, 'chart under a break-the-glass grant');
  const grants = (await glass.active()).grants;
  assert.deepEqual(grants.map((g) => g.patientId), [RESTRICTED]);
  assert.ok((await banner.innerText()).includes(new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(grants[0]!.expiresAt))));
});

test('offline, the search says emergency access needs the network instead of restricted matches', async () => {
  desktop.proxy.down = true;
  desktop.proxy.cutAll();
  desktop.auth.networkChanged(false);
  try {
    await page.locator('#patient-search').focus();
    await page.keyboard.type('Testfamily');
    const notice = page.getByTestId('glass-notice');
    await notice.waitFor();
    assert.equal(await notice.innerText(), GLASS_OFFLINE_MESSAGE);
    assert.equal(await page.getByTestId('restricted-result').count(), 0);
    await expectAccessible(page, 'search offline');
  } finally {
    desktop.proxy.down = false;
  }
});
