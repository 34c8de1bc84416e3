/**
 * Passkeys end to end, in Chromium with a CDP virtual platform authenticator
 * (PRF on) against the real backend process on loopback: enroll with a
 * one-time code, register a passkey, open a chart, lock by idle (an
 * injected clock, no sleeping), unlock, go offline (backend stopped) and
 * unlock offline, then revoke the device at the backend and see the cache
 * wiped. The whole story runs with the backend on SQLite and on PostgreSQL.
 * Screenshots go to test-results/screens/.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { readProfile } from '../../electron/services/cache-profile';
import { cacheKeyAccount } from '../../electron/services/device-keys';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { findLeaks, loadFixturePatients, phiNeedles } from '../support/synthea';
import { bindClinician, launchChromium, screenshot, serveRenderer, type RendererServer } from './harness';
import { openDatabase } from '../../server/database';

const patients = loadFixturePatients();
const needles = phiNeedles(patients);

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`passkeys with the backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('passkey');
    const shot = (page: Page, name: string) => screenshot(page, engine === 'sqlite' ? name : `${name}-${engine}`);
    let browser: Browser;
    let renderer: RendererServer;
    let backend: BackendProcess;
    let page: Page;
    let auth: AuthService;
    // The device clock starts at the real time: offline days count from the server's time at sign-in.
    let now = Date.now();

    before(async () => {
      [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], engine });
      backend.admin(['add-clinician', 'dr.ada', '--name', 'Dr Ada Byron', '--assign-all']);
      backend.admin(['set-policy', 'undoSeconds', '0']); // about sign-in and sync, not the undo window
      auth = new AuthService({
        dataDir: join(dir.path, 'desktop'),
        secrets: keychain,
        backend: new BackendClient(backend.url),
        rpId: 'localhost',
        origins: [renderer.origin],
        clock: () => now,
      });
      await auth.start();
      page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
      await addVirtualAuthenticator(page, { prf: true });
      await bindClinician(page, createHandlerRegistry(auth, auth), renderer.origin);
      await page.goto(`${renderer.origin}/index.html`);
    });

    after(async () => {
      await page?.close();
      await browser?.close();
      await renderer?.close();
      await backend?.dispose();
      auth?.lockNow('quit');
      dir.remove();
      await keychain.cleanup();
    });

    async function openChart(name: string) {
      await page.locator('#patient-search').fill(name.slice(0, 5));
      await page.getByTestId('patient-result').first().waitFor();
      await page.keyboard.press('Enter');
      await page.getByTestId('chart').waitFor();
    }

    test('enroll with a one-time code and a new passkey; the cache key is then bound to it', async () => {
      const code = backend.admin(['enroll-code', 'dr.ada']);
      assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
      await page.getByTestId('enroll-screen').waitFor();
      await shot(page, '10-enroll');
      await page.locator('#clinician-id').fill('dr.ada');
      await page.locator('#enroll-code').fill(code.toLowerCase());
      await page.getByRole('button', { name: 'Create passkey' }).click();
      await page.getByText('Encrypted cache open').waitFor();
      const profile = readProfile(join(dir.path, 'desktop'))!;
      const stored = await keychain.get(cacheKeyAccount(profile.profileId));
      assert.ok(stored?.startsWith('wrapped:v1:'), 'the keychain holds the cache key wrapped by the passkey PRF');
    });

    test('after sign-in the assigned patients are in the cache and a chart opens', async () => {
      const p = patients[0]!;
      await openChart(p.given);
      assert.equal(await page.getByTestId('chart-name').innerText(), `${p.given} ${p.family}`);
      await shot(page, '11-chart-after-sign-in');
      await page.getByRole('button', { name: 'Devices' }).click();
      await page.getByTestId('device').first().waitFor();
      assert.match(await page.getByTestId('devices-panel').innerText(), /This computer/);
      await page.getByTestId('devices-panel').getByRole('button', { name: 'Close' }).click();
    });

    test('idle for longer than the policy locks: the cache closes and no PHI is left in the page', async () => {
      now += 11 * 60_000;
      auth.tick();
      await page.getByTestId('lock-screen').waitFor();
      assert.equal(auth.session(), null);
      assert.match(await page.getByTestId('lock-reason').innerText(), /inactivity/);
      assert.deepEqual(findLeaks(Buffer.from(await page.content()), needles), [], 'no chart in the DOM behind the lock');
      await shot(page, '12-locked');
    });

    test('unlock with the passkey reopens the cache', async () => {
      await page.getByRole('button', { name: 'Unlock with passkey' }).click();
      await page.getByText('Encrypted cache open').waitFor();
      await openChart(patients[1]!.given);
    });

    test('with the backend down, the passkey still unlocks offline', async () => {
      await backend.stop();
      await page.getByTestId('lock-button').click();
      await page.getByTestId('lock-screen').waitFor();
      await page.getByRole('button', { name: 'Unlock with passkey' }).click();
      await page.getByText('Encrypted cache open').waitFor();
      assert.equal((await auth.status()).online, false);
      await openChart(patients[2]!.given);
      await shot(page, '13-offline-unlocked');
    });

    test('work done after an offline unlock goes out once the backend is back, on a device-key session that never pulls', async () => {
      await page.getByLabel('New problem', { exact: true }).fill('Recorded after an offline unlock');
      await page.getByRole('button', { name: 'Add problem' }).click();
      await page.getByTestId('sync-waiting').getByText('1 waiting').waitFor({ timeout: 5000 });
      await backend.start();
      await page.getByTestId('sync-waiting').getByText('All changes sent').waitFor({ timeout: 20_000 });
      assert.equal((await auth.status()).online, false, 'still the offline unlock: no passkey was checked by the backend');
      await page.getByTestId('sync-online').getByText('Online').waitFor({ timeout: 5000 });
      assert.equal(auth.syncState().lastError, null, 'no refused pull: a device-key session does not ask for patient data');
      const { db } = openDatabase(backend);
      try {
        const deviceId = auth.session()!.profile.profileId;
        const sessions = await db.selectFrom('sessions').select('scope').where('device_id', '=', deviceId).where('scope', '=', 'sync').execute();
        assert.equal(sessions.length, 1, 'one sync-only session, from the device key');
        const stored = await db.selectFrom('resources').select('json').where('resource_type', '=', 'Condition').execute();
        assert.equal(stored.filter((r) => r.json.includes('Recorded after an offline unlock')).length, 1, 'the change reached the backend once');
      } finally {
        await db.destroy();
      }
      await backend.stop();
    });

    test('past the policy\'s offline days, offline unlock is refused; back online it works again', async () => {
      await page.getByTestId('lock-button').click();
      now += 8 * 86_400_000;
      await page.getByRole('button', { name: 'Unlock with passkey' }).click();
      assert.match(await page.getByTestId('signin-error').innerText(), /offline for more than 7 days/);
      assert.equal(auth.session(), null);
      await backend.start();
      await page.getByRole('button', { name: 'Unlock with passkey' }).click();
      await page.getByText('Encrypted cache open').waitFor();
      assert.equal((await auth.status()).online, true);
    });

    test('a device revoked at the backend is wiped (by its own sync, or at the next online sign-in): keychain first, then files', async () => {
      const desktop = join(dir.path, 'desktop');
      const profile = readProfile(desktop)!;
      assert.equal(backend.admin(['revoke-device', profile.profileId]), 'revoked');
      // The running app may notice the revocation on its own first (its sync gets DEVICE_REVOKED and
      // wipes at once); otherwise the next online sign-in does. Either way the result must be the same.
      auth.lockNow('manual');
      const seen = (p: Promise<unknown>, what: string) => p.then(() => what, () => 'timeout');
      const screen = await Promise.race([
        seen(page.getByTestId('enroll-screen').waitFor(), 'enroll'),
        seen(page.getByRole('button', { name: 'Unlock with passkey' }).waitFor(), 'lock'),
      ]);
      if (screen === 'lock') await page.getByRole('button', { name: 'Unlock with passkey' }).click().catch(() => undefined);
      await page.getByTestId('enroll-screen').waitFor();
      assert.match(await page.getByTestId('signed-out-reason').innerText(), /revoked/);
      assert.equal(await keychain.get(cacheKeyAccount(profile.profileId)), null);
      assert.equal(existsSync(desktop) ? readdirSync(desktop).length : 0, 0, 'the cache files are gone');
      await shot(page, '14-revoked');
    });
  });
}
