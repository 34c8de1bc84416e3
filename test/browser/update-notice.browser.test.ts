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
 * The updater is the app's own (createUpdateService) against the loopback
 * update server (test/support/update-server.ts) serving a release signed
 * with a throwaway Ed25519 key; the download is electron-updater's own,
 * run under Node (test/support/update-node-runner.ts, through the app's
 * electronUpdaterDownloader), which records the final quit-and-install
 * instead of running an installer (that needs the Electron binary). A
 * recording wrapper counts status() asks and keeps what install() received.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { UpdateSurface } from '../../electron/services/app-surfaces';
import { createUpdateService, type UpdateService } from '../../electron/services/update/update-service';
import { electronUpdaterDownloader } from '../../electron/update-glue';
import type { UpdateStatus } from '../../shared/contract';
import { publishRelease, releaseManifest, startUpdateServer, throwawayUpdateKeys, type UpdateServer } from '../support/update-server';
import { NodeRunUpdater } from '../support/update-node-runner';
import { expectAccessible } from './axe';
import { screenshot } from './harness';
import { managedDesktop, type ManagedDesktop } from './managed-desktop';

const CHANNEL = 'latest-linux.yml';
const INSTALLER = 'Clinician-Desktop-2.4.0.AppImage';
const installer = Buffer.from(`#!/bin/sh\necho clinician desktop 2.4.0\n${'x'.repeat(20_000)}\n`);
const keys = throwawayUpdateKeys();
const otherKeys = throwawayUpdateKeys();

/** A loopback update server with version 2.4.0 published, signed by `signer`. */
async function startFeed(signer = keys): Promise<UpdateServer> {
  const server = await startUpdateServer();
  server.put(INSTALLER, installer);
  publishRelease(server, CHANNEL, releaseManifest('2.4.0', INSTALLER, installer), signer.privateKeyPem);
  return server;
}

/** The app's updater against a feed, with what the app would tell it (consultation, waiting changes) set by the test. */
class TestUpdater implements UpdateSurface {
  consultation = false;
  waitingChanges = 0;
  statusCalls = 0;
  /** What install() received, in order. */
  installs: boolean[] = [];
  readonly electronUpdater: NodeRunUpdater;
  readonly service: UpdateService;
  private waiters: Array<() => void> = [];

  /** How often electron-updater was asked to quit and install. */
  get quitAndInstall(): number {
    return this.electronUpdater.installs.length;
  }

  constructor(feedUrl: string | null, options: { updatesEnabled?: boolean } = {}) {
    const folder = mkdtempSync(join(desktop.dir, 'update-'));
    this.electronUpdater = new NodeRunUpdater(folder, '2.3.1');
    this.service = createUpdateService({
      currentVersion: '2.3.1',
      policy: { updatesEnabled: options.updatesEnabled ?? true, updateUrl: feedUrl, updateTargetVersion: null },
      publicKey: keys.publicKeyBase64,
      dataDir: folder,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(this.electronUpdater),
      consultationActive: () => this.consultation,
      waitingChanges: async () => this.waitingChanges,
    });
  }

  /** Resolves at the next status() call. */
  nextStatus(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  status(): Promise<UpdateStatus> {
    this.statusCalls++;
    for (const w of this.waiters.splice(0)) w();
    return this.service.status();
  }

  install(acceptUnsynced: boolean): Promise<{ installing: boolean }> {
    this.installs.push(acceptUnsynced);
    return this.service.install(acceptUnsynced);
  }
}

/** An updater that found version 2.4.0 on the feed, checked its signature and has it ready. */
async function readyUpdater(): Promise<TestUpdater> {
  const updater = new TestUpdater(feed.url);
  await updater.service.checkNow();
  assert.equal((await updater.service.status()).state, 'ready', 'the signed update is ready');
  assert.ok(updater.electronUpdater.downloadedFile, 'electron-updater downloaded and checked the installer');
  return updater;
}

let desktop: ManagedDesktop;
let feed: UpdateServer;

before(async () => {
  desktop = await managedDesktop('update-notice');
  feed = await startFeed();
});

after(async () => {
  await feed?.close();
  await desktop?.close();
});

/** The window gets the focus back: the notice asks main again (the same event a clinician returning to the app fires). */
async function windowFocus(page: Page, updater: TestUpdater): Promise<void> {
  const asked = updater.nextStatus();
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await asked;
}

async function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((e) => e === (e.ownerDocument as { activeElement: unknown }).activeElement);
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

test('a ready update shows "Version X is ready" and "Restart to update"; before the check nothing shows; the status is asked again on focus', async () => {
  const updater = new TestUpdater(feed.url);
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('settings-button').waitFor();
  assert.equal((await updater.service.status()).state, 'idle');
  assert.equal(await page.getByTestId('update-notice').count(), 0, 'nothing in the top bar before an update is ready');

  await updater.service.checkNow();
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

test('during a consultation the restart button is aria-disabled (still in the Tab order) with "after your consultation"; it is offered again when the consultation ends', async () => {
  const updater = await readyUpdater();
  updater.consultation = true;
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.waitFor();
  assert.equal(await restart.getAttribute('aria-disabled'), 'true', 'no restart during a consultation, and screen readers hear it is unavailable');
  await page.getByTestId('settings-button').focus();
  await page.keyboard.press('Tab');
  assert.equal(await isFocused(restart), true, 'the waiting button is reached with Tab (a keyboard user hears why it waits)');
  await page.keyboard.press('Enter');
  assert.deepEqual(updater.installs, [], 'Enter on the waiting button installs nothing');
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
  await page.waitForFunction(() => document.querySelector('[data-testid=update-restart]')?.getAttribute('aria-disabled') === null);
  assert.equal(await reason.count(), 0, 'the reason is gone with the consultation');
  assert.equal(updater.quitAndInstall, 0);
  await page.close();
});

test('with unsent changes a click asks to confirm they are kept and sent after the restart; Cancel installs nothing, the confirmation installs with acceptUnsynced true', async () => {
  const updater = await readyUpdater();
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
  assert.equal(updater.quitAndInstall, 1, 'the updater quit and installed');
  await page.close();
});

test('without unsent changes a click installs at once with acceptUnsynced false', async () => {
  const updater = await readyUpdater();
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('update-restart').click();
  await page.getByText('Restarting…').waitFor();
  assert.equal(await isFocused(page.getByText('Restarting…')), true, 'focus moves to "Restarting…" (never <body>)');
  assert.deepEqual(updater.installs, [false]);
  assert.equal(updater.quitAndInstall, 1);
  assert.equal(await page.getByTestId('update-confirm').count(), 0, 'no question when nothing waits');
  await page.close();
});

test('a consultation that starts after the notice showed: the install is refused (UPDATE_DEFERRED), said in words, and the button then waits', async () => {
  const updater = await readyUpdater();
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.waitFor();
  updater.consultation = true; // began since the last poll
  await restart.click();
  const alert = page.getByTestId('update-error');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await alert.locator('p').textContent(), 'Not restarted. The update waits until the consultation ends.');
  assert.deepEqual(updater.installs, [false]);
  assert.equal(updater.quitAndInstall, 0, 'nothing installed during the consultation');
  await page.waitForFunction(() => document.querySelector('[data-testid=update-restart]')?.getAttribute('aria-disabled') === 'true');
  assert.equal(await page.getByTestId('update-reason').textContent(), 'after your consultation', 'the status was asked again after the refusal');
  assert.equal(await isFocused(restart), true, 'focus stays on the button through the refusal (never <body>)');
  await expectAccessible(page, 'refused install');
  await alert.getByRole('button', { name: 'Dismiss' }).click();
  await alert.waitFor({ state: 'detached' });
  assert.equal(await isFocused(restart), true, 'after Dismiss focus is back on the button');
  await page.close();
});

test('an update that fails its signature check: nothing in the top bar; Settings says why', async () => {
  const forged = await startFeed(otherKeys);
  try {
    const updater = new TestUpdater(forged.url);
    await updater.service.checkNow();
    assert.equal((await updater.service.status()).state, 'failed');
    assert.deepEqual(forged.requests.filter((path) => path.endsWith('.AppImage')), [], 'nothing downloaded after the refusal');
    const page = await desktop.open({ updates: updater });
    await page.getByTestId('settings-button').click();
    await page.getByTestId('update-message').waitFor();
    assert.equal(await page.getByTestId('update-message').textContent(), 'An update was offered but failed its signature check; nothing was installed.');
    assert.match((await page.getByTestId('update-settings').textContent())!, /This is version 2\.3\.1\. The last update check failed\./);
    assert.equal(await page.getByTestId('update-notice').count(), 0, 'nothing offered in the top bar');
    await page.close();
  } finally {
    await forged.close();
  }
});

test('updates off by policy: nothing in the top bar; Settings says updates are off, with the reason', async () => {
  const updater = new TestUpdater(feed.url, { updatesEnabled: false });
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('settings-button').click();
  const section = page.getByTestId('update-settings');
  await page.getByTestId('update-message').waitFor();
  assert.equal(await page.getByTestId('update-message').textContent(), 'Updates are turned off by your organisation.');
  const words = (await section.textContent())!;
  assert.match(words, /This is version 2\.3\.1\./);
  assert.equal(words.split('turned off').length - 1, 1, `the reason is said once (${words})`);
  assert.equal(await page.getByTestId('update-notice').count(), 0, 'nothing in the top bar');
  await page.close();
});

test('the status is asked every 60 s, not in a loop', async () => {
  const updater = new TestUpdater(feed.url);
  // The page's clock is the test's: install it before the app loads, then let time pass.
  const page = await desktop.open({ updates: updater }, { beforeLoad: (p) => p.clock.install() });
  await page.getByTestId('settings-button').waitFor();
  const start = updater.statusCalls;
  assert.ok(start >= 1, 'asked once on load');
  await page.clock.runFor(59_000);
  assert.equal(updater.statusCalls, start, 'not asked again within 59 s (no busy loop)');
  await updater.service.checkNow();
  const asked = updater.nextStatus();
  await page.clock.runFor(1_000);
  await asked;
  await page.getByTestId('update-notice').waitFor();
  assert.equal(updater.statusCalls, start + 1, 'asked once more at 60 s');
  await page.close();
});

test('with the notice shown (and during a consultation): no sideways scroll and one-line top bar at 1366x768 and 683x384, axe clean', async () => {
  const updater = await readyUpdater();
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
    assert.equal(await page.getByRole('button', { name: 'Restart to update' }).count(), 1, '683x384: the full name stays for screen readers');
    if (consultation) {
      const short = page.locator('.update-narrow');
      assert.ok(await short.isVisible(), '683x384: the reason is shown in short words');
      assert.equal(await short.evaluate((e) => e.parentElement!.scrollWidth <= e.parentElement!.clientWidth), true, '683x384: the short reason is not cut off');
    }
    await screenshot(page, `update-notice-200pct-${consultation ? 'consultation' : 'ready'}`);
  }
  updater.consultation = false;
  updater.waitingChanges = 2;
  await windowFocus(page, updater);
  await page.waitForFunction(() => document.querySelector('[data-testid=update-restart]')?.getAttribute('aria-disabled') === null);
  await page.getByTestId('update-restart').click();
  await page.getByTestId('update-confirm').waitFor();
  await noSidewaysScroll(page, '683x384 confirmation');
  const confirmButton = (await page.getByTestId('update-confirm-confirm').boundingBox())!;
  assert.ok(confirmButton.x + confirmButton.width <= 683 && confirmButton.y + confirmButton.height <= 384, 'the confirmation fits at 200 %');
  await screenshot(page, 'update-notice-200pct-confirm');
  await page.close();
});

test('updates off for another reason: Settings says that reason (not "turned off by your organisation"), once, with clean punctuation', async () => {
  const updater = new TestUpdater(null);
  assert.equal((await updater.service.status()).state, 'off');
  const page = await desktop.open({ updates: updater });
  await page.getByTestId('settings-button').click();
  await page.getByTestId('update-message').waitFor();
  const words = (await page.getByTestId('update-settings').textContent())!;
  assert.equal(await page.getByTestId('update-message').textContent(), 'No update address is configured.');
  assert.doesNotMatch(words, /by your organisation/, `the updater's own reason, not a guess (${words})`);
  assert.doesNotMatch(words, /…\.|\.\.|:\s*\./, 'no doubled punctuation');
  await page.close();
});

test('changes that became unsent since the last look: the click asks the confirmation (never "confirm" words without a confirm button)', async () => {
  const updater = await readyUpdater();
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.waitFor();
  updater.waitingChanges = 2; // since the last poll
  await restart.click();
  await page.getByTestId('update-confirm').waitFor();
  assert.equal(await page.getByTestId('update-error').count(), 0, 'no refusal text asking to confirm');
  await page.getByTestId('update-confirm-confirm').click();
  await page.getByText('Restarting…').waitFor();
  assert.deepEqual(updater.installs, [false, true], 'the first ask was refused (changes wait), the confirmed one accepts them');
  await page.close();
});

test('a confirmation open when a consultation starts closes; the button waits, with focus on it', async () => {
  const updater = await readyUpdater();
  updater.waitingChanges = 2;
  const page = await desktop.open({ updates: updater });
  const restart = page.getByTestId('update-restart');
  await restart.click();
  const confirm = page.getByTestId('update-confirm');
  await confirm.waitFor();
  updater.consultation = true;
  await windowFocus(page, updater);
  await confirm.waitFor({ state: 'detached' });
  assert.equal(await restart.getAttribute('aria-disabled'), 'true');
  assert.equal(await isFocused(restart), true, 'focus back on the (waiting) button');
  assert.deepEqual(updater.installs, []);
  await page.close();
});

test('signed in: the full notice fits the top bar at 1366x768 (ready, during a consultation), the short cue and reason at 683x384; locked, no restart is offered', async () => {
  const updater = await readyUpdater();
  const { page } = await desktop.signIn({ updates: updater }, { displayName: 'Dr Kim Lee' });
  await page.getByTestId('update-notice').waitFor();
  /** The element shows all of its text (nothing cut off with an ellipsis) and is on screen. */
  const whole = async (selector: string, what: string) => {
    const r = await page.locator(selector).evaluate((e) => {
      const box = e.getBoundingClientRect();
      return { cut: e.scrollWidth > e.clientWidth + 0.5, width: box.width, right: box.right, view: window.innerWidth, text: (e as HTMLElement).innerText };
    });
    assert.ok(!r.cut && r.width > 1 && r.right <= r.view, `${what}: "${r.text}" shown in full (${JSON.stringify(r)})`);
  };
  for (const consultation of [false, true]) {
    updater.consultation = consultation;
    await page.setViewportSize({ width: 1366, height: 768 });
    await windowFocus(page, updater);
    await page.waitForFunction((c) => (document.querySelector('[data-testid=update-reason]') !== null) === c, consultation);
    const what = consultation ? 'during a consultation' : 'ready';
    await whole('.update-notice-text', `1366 ${what}: the version`);
    assert.equal(await page.locator('.update-notice-text').getAttribute('title'), 'Version 2.4.0 is ready to install');
    await whole('.topbar-user', `1366 ${what}: the clinician's name`);
    await whole('[data-testid=update-restart]', `1366 ${what}: the button`);
    if (consultation) await whole('[data-testid=update-reason]', `1366 ${what}: the reason`);
    await noSidewaysScroll(page, `1366 signed in ${what}`);
    await expectAccessible(page, `signed-in notice ${what}`);
    await screenshot(page, `update-notice-signed-in-1366-${consultation ? 'consultation' : 'ready'}`);
    await page.setViewportSize({ width: 683, height: 384 });
    await whole('.update-cue', `683 ${what}: the short cue`);
    assert.equal(await page.locator('.update-cue').textContent(), 'Update ready');
    await whole('[data-testid=update-restart]', `683 ${what}: the button`);
    assert.equal(await page.getByRole('button', { name: 'Restart to update' }).count(), 1, '683: the full name stays for screen readers');
    if (consultation) await whole('.update-narrow', `683 ${what}: the short reason`);
    await noSidewaysScroll(page, `683 signed in ${what}`);
    await expectAccessible(page, `signed-in notice ${what} at 200 %`);
    await screenshot(page, `update-notice-signed-in-683-${consultation ? 'consultation' : 'ready'}`);
  }
  updater.consultation = false;
  await page.getByTestId('lock-button').click();
  await page.getByTestId('lock-button').waitFor({ state: 'detached' });
  // A round trip after the lock screen's own asks (calls answer in order), then a frame for React to paint.
  await page.evaluate(() => (window as unknown as { clinician: { update: { status(i: object): Promise<unknown> } } }).clinician.update.status({}));
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
  assert.equal(await page.getByTestId('update-notice').count(), 0, 'the lock screen offers no restart to whoever stands at the computer');
  assert.equal(await page.getByRole('button', { name: /Restart/ }).count(), 0);
  assert.deepEqual(updater.installs, []);
  await page.close();
});
