/**
 * The update notice in the top bar, in Chromium against the app's handler
 * registry and a real encrypted cache: "Version X is ready" with "Restart to
 * update" for a ready update and nothing otherwise; during a consultation
 * the button is disabled with "after your consultation"; with unsent
 * changes a click first asks to confirm that they are kept and sent after
 * the restart, and only the confirmation installs, with acceptUnsynced
 * true; a refused install is shown in words; updates off show nothing in
 * the top bar and the reason in Settings; the status is asked again on
 * window focus and every 60 s (not in a loop); nothing scrolls sideways at
 * 1366x768 or 683x384 with the notice shown; axe clean.
 *
 * The UpdateSurface here is a small in-test implementation of the interface
 * (electron/services/app-surfaces.ts) that decides like the update
 * engineer's service (waitingFor from a running consultation and waiting
 * changes; UPDATE_DEFERRED unless allowed), until createUpdateService and
 * its loopback update server are committed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { UpdateSurface } from '../../electron/services/app-surfaces';
import { AppError } from '../../shared/app-error';
import type { UpdateStatus } from '../../shared/contract';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { managedDesktop, type ManagedDesktop } from './managed-desktop';

/** An updater whose state the test sets; it records every install it is asked for. */
class TestUpdater implements UpdateSurface {
  state: UpdateStatus['state'] = 'ready';
  availableVersion: string | null = '2.4.0';
  message: string | null = null;
  consultation = false;
  waitingChanges = 0;
  statusCalls = 0;
  installs: boolean[] = [];
  refuseWith: AppError | null = null;
  private waiters: Array<() => void> = [];

  /** Resolves at the next status() call. */
  nextStatus(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  status(): UpdateStatus {
    this.statusCalls++;
    for (const w of this.waiters.splice(0)) w();
    const waitingFor: UpdateStatus['waitingFor'] = [];
    if (this.state === 'ready' && this.consultation) waitingFor.push('consultation');
    if (this.state === 'ready' && this.waitingChanges > 0) waitingFor.push('unsynced-changes');
    return { state: this.state, currentVersion: '2.3.1', availableVersion: this.availableVersion, waitingFor, message: this.message };
  }

  async install(acceptUnsynced: boolean): Promise<{ installing: boolean }> {
    this.installs.push(acceptUnsynced);
    if (this.refuseWith) throw this.refuseWith;
    if (this.state !== 'ready') throw new AppError('UPDATE_UNAVAILABLE', 'No update is ready.');
    if (this.consultation) throw new AppError('UPDATE_DEFERRED', 'A consultation is running.');
    if (this.waitingChanges > 0 && !acceptUnsynced) throw new AppError('UPDATE_DEFERRED', 'Changes wait to be sent.');
    return { installing: true };
  }
}

let desktop: ManagedDesktop;

before(async () => {
  desktop = await managedDesktop('update-notice');
});

after(async () => {
  await desktop?.close();
});

/** The window gets the focus back: the notice asks main again (the same event a clinician returning to the app fires). */
async function windowFocus(page: Page, updater: TestUpdater): Promise<void> {
  const asked = updater.nextStatus();
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await asked;
}

async function noSidewaysScroll(page: Page, what: string): Promise<void> {
  const sideways = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.ok(sideways <= 0, `${what}: no horizontal page scroll (${sideways}px)`);
}

/** Every visible item of the top bar is inside it, on one line, none cut off at the right. */
async function topBarOneLine(page: Page, what: string): Promise<void> {
  const bar = (await page.getByTestId('topbar').boundingBox())!;
  const boxes = await page.locator('.topbar > *, .update-notice > :not(dialog)').evaluateAll((els) =>
    els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 1 && r.height > 1).map((r) => ({ top: r.top, bottom: r.bottom, right: r.right })),
  );
  const lineHeight = Math.max(...boxes.map((b) => b.bottom - b.top));
  assert.ok(bar.height <= lineHeight + 16, `${what}: the top bar is one line (${bar.height}px for ${lineHeight}px items)`);
  for (const b of boxes) assert.ok(b.right <= bar.x + bar.width + 0.5 && b.bottom <= bar.y + bar.height + 0.5, `${what}: every item inside the bar`);
}

test('a ready update shows "Version X is ready" and "Restart to update"; idle shows nothing; the status is asked again on focus', async () => {
  const updater = new TestUpdater();
  updater.state = 'idle';
  updater.availableVersion = null;
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('settings-button').waitFor();
  assert.equal(await page.getByTestId('update-notice').count(), 0, 'nothing in the top bar while up to date');

  updater.state = 'ready';
  updater.availableVersion = '2.4.0';
  await windowFocus(page, updater);
  const notice = page.getByTestId('update-notice');
  await notice.waitFor();
  assert.equal(await notice.getByText('Version 2.4.0 is ready').isVisible(), true);
  const restart = page.getByRole('button', { name: 'Restart to update' });
  assert.equal(await restart.isEnabled(), true);
  assert.equal(await page.getByRole('dialog').count(), 0, 'the notice never opens a dialog by itself');
  assert.equal(await notice.evaluate((n) => n.closest('header')?.getAttribute('data-testid')), 'topbar', 'the notice is in the top bar');
  await screenshot(page, 'update-notice-ready-1366');
  await page.close();
});

test('during a consultation the restart button is disabled with "after your consultation"; it is offered again when the consultation ends', async () => {
  const updater = new TestUpdater();
  updater.consultation = true;
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.waitFor();
  assert.equal(await restart.isDisabled(), true, 'no restart during a consultation');
  const reason = page.getByTestId('update-reason');
  assert.equal(await reason.textContent(), 'after your consultation');
  assert.ok(await reason.isVisible(), 'the reason is visible');
  const describedBy = (await restart.getAttribute('aria-describedby'))!.split(' ');
  assert.ok(describedBy.includes((await reason.getAttribute('id'))!), 'screen readers hear the reason with the button');
  await restart.click({ force: true });
  assert.deepEqual(updater.installs, [], 'a click on the disabled button installs nothing');
  await expectAccessible(page, 'update notice during a consultation');

  updater.consultation = false;
  await windowFocus(page, updater);
  await page.waitForFunction(() => !(document.querySelector('[data-testid=update-restart]') as HTMLButtonElement | null)?.disabled);
  assert.equal(await reason.count(), 0, 'the reason is gone with the consultation');
  await page.close();
});

test('with unsent changes a click asks to confirm they are kept and sent after the restart; Cancel installs nothing, the confirmation installs with acceptUnsynced true', async () => {
  const updater = new TestUpdater();
  updater.waitingChanges = 3;
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.click();
  const confirm = page.getByTestId('update-confirm');
  await confirm.waitFor();
  const words = (await confirm.textContent())!;
  assert.match(words, /not sent yet/);
  assert.match(words, /kept on this computer and sent after the restart/);
  assert.equal(await confirm.evaluate((d) => d.contains((d.ownerDocument as { activeElement: unknown }).activeElement as never)), true, 'focus moved into the confirmation');
  assert.equal(await page.evaluate('document.activeElement.textContent'), 'Cancel', 'Cancel has the focus: Enter alone never restarts');
  await expectAccessible(page, 'update confirmation');
  await screenshot(page, 'update-notice-confirm-1366');
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  assert.deepEqual(updater.installs, [], 'Esc installs nothing');
  assert.equal(await restart.evaluate((b) => b === (b.ownerDocument as { activeElement: unknown }).activeElement), true, 'focus is back on the restart button');

  await restart.click();
  await page.getByTestId('update-confirm-confirm').click();
  await page.getByText('Restarting…').waitFor();
  assert.deepEqual(updater.installs, [true], 'install was called once, with acceptUnsynced true');
  await page.close();
});

test('without unsent changes a click installs at once with acceptUnsynced false', async () => {
  const updater = new TestUpdater();
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('update-restart').click();
  await page.getByText('Restarting…').waitFor();
  assert.deepEqual(updater.installs, [false]);
  assert.equal(await page.getByTestId('update-confirm').count(), 0, 'no question when nothing waits');
  await page.close();
});

test('a refused install is shown in words (UPDATE_DEFERRED, UPDATE_REJECTED), and the work stays', async () => {
  const updater = new TestUpdater();
  updater.refuseWith = new AppError('UPDATE_REJECTED', 'The update failed its signature check.');
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('update-restart').click();
  const alert = page.getByTestId('update-error');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.match((await alert.textContent())!, /Not restarted: the update failed its signature check and will not be installed\./);
  await expectAccessible(page, 'refused install');
  await alert.getByRole('button', { name: 'Dismiss' }).click();
  await alert.waitFor({ state: 'detached' });

  updater.refuseWith = new AppError('UPDATE_DEFERRED', 'A consultation is running.');
  await page.getByTestId('update-restart').click();
  await alert.waitFor();
  assert.match((await alert.textContent())!, /Not restarted: the update waits\. A consultation is running\./);
  assert.deepEqual(updater.installs, [false, false]);
  await page.close();
});

test('updates off: nothing in the top bar; Settings says updates are off, with the reason', async () => {
  const updater = new TestUpdater();
  updater.state = 'off';
  updater.availableVersion = null;
  updater.message = 'Your organisation turned updates off on this computer.';
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('settings-button').click();
  const section = page.getByTestId('update-settings');
  await section.getByText('This is version 2.3.1.', { exact: false }).waitFor();
  assert.match((await section.textContent())!, /Updates are turned off by your organisation/);
  assert.equal(await page.getByTestId('update-message').textContent(), 'Your organisation turned updates off on this computer.');
  assert.equal(await page.getByTestId('update-notice').count(), 0, 'nothing in the top bar');
  await page.close();
});

test('the status is asked every 60 s, not in a loop', async () => {
  const updater = new TestUpdater();
  updater.state = 'idle';
  updater.availableVersion = null;
  // The page's clock is the test's: install it before the app loads, then let time pass.
  const page = await desktop.open({ updates: updater }, { beforeLoad: (p) => p.clock.install() });
  await page.getByTestId('settings-button').waitFor();
  const start = updater.statusCalls;
  assert.ok(start >= 1, 'asked once on load');
  await page.clock.runFor(59_000);
  assert.equal(updater.statusCalls, start, 'not asked again within 59 s (no busy loop)');
  updater.state = 'ready';
  updater.availableVersion = '2.4.0';
  const asked = updater.nextStatus();
  await page.clock.runFor(1_000);
  await asked;
  await page.getByTestId('update-notice').waitFor();
  assert.equal(updater.statusCalls, start + 1, 'asked once more at 60 s');
  await page.close();
});

test('with the notice shown (and during a consultation): no sideways scroll and one-line top bar at 1366x768 and 683x384, axe clean', async () => {
  const updater = new TestUpdater();
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('update-notice').waitFor();
  for (const consultation of [false, true]) {
    updater.consultation = consultation;
    await page.setViewportSize({ width: 1366, height: 768 });
    await windowFocus(page, updater);
    await page.waitForFunction((c) => (document.querySelector('[data-testid=update-reason]') !== null) === c, consultation);
    const what = consultation ? 'during a consultation' : 'ready';
    await noSidewaysScroll(page, `1366x768 ${what}`);
    await topBarOneLine(page, `1366x768 ${what}`);
    await expectAccessible(page, `update notice ${what}`);
    await page.setViewportSize({ width: 683, height: 384 });
    await noSidewaysScroll(page, `683x384 ${what}`);
    await topBarOneLine(page, `683x384 ${what}`);
    await expectAccessible(page, `update notice ${what} at 200 %`);
    const button = (await page.getByTestId('update-restart').boundingBox())!;
    assert.ok(button.x >= 0 && button.x + button.width <= 683, `683x384 ${what}: the restart button is on screen`);
    await screenshot(page, `update-notice-200pct-${consultation ? 'consultation' : 'ready'}`);
  }
  updater.consultation = false;
  updater.waitingChanges = 2;
  await windowFocus(page, updater);
  await page.getByTestId('update-restart').click();
  await page.getByTestId('update-confirm').waitFor();
  await noSidewaysScroll(page, '683x384 confirmation');
  const confirmButton = (await page.getByTestId('update-confirm-confirm').boundingBox())!;
  assert.ok(confirmButton.x + confirmButton.width <= 683 && confirmButton.y + confirmButton.height <= 384, 'the confirmation fits at 200 %');
  await screenshot(page, 'update-notice-200pct-confirm');
  await page.close();
});
