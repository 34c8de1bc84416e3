/**
 * Window sizes, in Chromium against the real services (enrolled desktop
 * with the critical patient): the top bar stays one line at 1100 and 1366 px
 * wide, and at 200 % zoom of a 13-inch screen (a 683x384 CSS-pixel
 * viewport) nothing scrolls sideways and every main control (search, sync
 * status, settings, devices, lock, the worklist's patients, the chart's
 * close button and tabs) can be reached and is on screen when focused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { CHART_TABS } from '../../shared/contract';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { SYNTHEA_DIR } from '../support/synthea';
import { expectAccessible } from './axe';
import { ROOT, screenshot } from './harness';
import { enrolledDesktop, type EnrolledDesktop } from './enrolled-desktop';

const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const keychain = testKeychain();
const dir = scratchDir('shell-zoom');
let desktop: EnrolledDesktop;
let page: Page;

before(async () => {
  desktop = await enrolledDesktop(dir.path, keychain, { backendFlags: ['--bundles', SYNTHEA_DIR, '--bundles', CRITICAL_FILE] });
  page = desktop.page;
  await page.getByTestId('worklist-row').first().waitFor();
});

after(async () => {
  await desktop?.close();
  dir.remove();
  await keychain.cleanup();
});

/** The top bar's visible items all sit on one line, and none is cut off. */
async function topBarOneLine(): Promise<void> {
  const boxes = await page.locator('.topbar > *').evaluateAll((els) =>
    els
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width > 0 && r.height > 0)
      .map((r) => ({ top: r.top, bottom: r.bottom, right: r.right })),
  );
  const bar = (await page.getByTestId('topbar').boundingBox())!;
  const lineHeight = Math.max(...boxes.map((b) => b.bottom - b.top));
  assert.ok(bar.height <= lineHeight + 16, `the top bar is one line (${bar.height}px for ${lineHeight}px items)`);
  for (const b of boxes) {
    assert.ok(b.top >= bar.y && b.bottom <= bar.y + bar.height + 0.5, 'every item inside the bar');
    assert.ok(b.right <= bar.x + bar.width + 0.5, 'no item cut off at the right');
  }
}

async function noSidewaysScroll(what: string): Promise<void> {
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `${what}: no horizontal page scroll (${sideways}px)`);
}

/** Focus reaches the control by Tab from the page start, and it is then on screen. */
async function reachableByTab(control: Locator, name: string, maxTabs = 80): Promise<void> {
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    if (await control.evaluate((el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement)) {
      const box = await control.boundingBox();
      const vp = page.viewportSize()!;
      assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width + 1 && box.y + box.height <= vp.height + 1, `${name} is on screen when focused`);
      return;
    }
  }
  assert.fail(`${name} is not reachable by Tab`);
}

test('the top bar is one line at 1366 and at 1100 px wide (with a chart open)', async () => {
  await topBarOneLine();
  await page.setViewportSize({ width: 1100, height: 768 });
  await topBarOneLine();
  await page.getByTestId('worklist-row').filter({ hasText: 'Marguerite Vantongeren' }).locator('.open-button').click();
  await page.getByTestId('chart').waitFor();
  await topBarOneLine();
  await noSidewaysScroll('1100 px chart');
  await screenshot(page, 'shell-15-chart-1100px');
  await page.locator('body').press('Escape');
  await page.getByTestId('worklist-row').first().waitFor();
});

test('at 200 % zoom (683x384): no sideways scroll, every main control reachable and on screen', async () => {
  await page.setViewportSize({ width: 683, height: 384 });
  await noSidewaysScroll('worklist at 200 %');
  await topBarOneLine();
  await expectAccessible(page, 'worklist at 200 %');
  await screenshot(page, 'shell-16-worklist-200pct');
  for (const [control, name] of [
    [page.locator('#patient-search'), 'search'],
    [page.getByTestId('sync-status-button'), 'sync status'],
    [page.getByTestId('settings-button'), 'settings'],
    [page.getByRole('button', { name: 'Devices' }), 'devices'],
    [page.getByTestId('lock-button'), 'lock'],
    [page.locator('[data-testid=worklist-row] .open-button').last(), 'the last patient in the worklist'],
  ] as const) {
    await reachableByTab(control, name);
  }

  await page.locator('[data-testid=worklist-row] .open-button').filter({ hasText: 'Marguerite Vantongeren' }).click();
  await page.getByTestId('chart').waitFor();
  await page.getByTestId('panel-summary').locator('section').first().waitFor();
  await noSidewaysScroll('chart at 200 %');
  await expectAccessible(page, 'chart at 200 %');
  await screenshot(page, 'shell-17-chart-200pct');
  await reachableByTab(page.locator('.banner').getByRole('button', { name: /Close/ }), 'close chart');
  await reachableByTab(page.locator('#chart-tab-summary'), 'the chart tabs');
  // The tabs are one tab stop (arrows move): each is reachable and shows its panel without sideways scroll.
  for (const tab of CHART_TABS) {
    await page.locator(`#chart-tab-${tab}`).click();
    await page.getByTestId(`panel-${tab}`).waitFor();
    await noSidewaysScroll(`chart tab ${tab} at 200 %`);
  }
  await page.locator('#chart-tab-summary').click();

  await page.getByTestId('sync-status-button').click();
  await page.getByTestId('waiting-dialog').waitFor();
  await noSidewaysScroll('waiting dialog at 200 %');
  const close = page.getByTestId('waiting-dialog').getByRole('button', { name: 'Close' });
  const box = (await close.boundingBox())!;
  assert.ok(box.x + box.width <= 683 && box.y >= 0, 'the dialog\'s Close is on screen');
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 1366, height: 768 });
});
