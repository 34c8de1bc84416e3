/**
 * A passkey without the PRF extension. By default the organisation's policy
 * requires PRF: enrolling such a passkey is refused and leaves nothing
 * behind. An organisation that relaxes the policy explicitly gets the
 * fallback: the cache key stays in the keychain unwrapped (what that costs
 * is in the README), and lock and unlock still work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import keytar from 'keytar';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { readProfile } from '../../electron/services/cache-profile';
import { cacheKeyAccount } from '../../electron/services/device-keys';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { bindClinician, launchChromium, screenshot, serveRenderer, type RendererServer } from './harness';

const keychain = testKeychain();
const dir = scratchDir('fallback');
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.bo', '--name', 'Dr Bo Tan', '--assign-all']);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
  await backend?.stop();
  dir.remove();
  await keychain.cleanup();
});

async function desktop(name: string): Promise<{ page: Page; auth: AuthService; dataDir: string }> {
  const dataDir = join(dir.path, name);
  const auth = new AuthService({ dataDir, secrets: keychain, backend: new BackendClient(backend.url), rpId: 'localhost', origins: [renderer.origin] });
  await auth.start();
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await addVirtualAuthenticator(page, { prf: false });
  await bindClinician(page, createHandlerRegistry(auth, auth), renderer.origin);
  await page.goto(`${renderer.origin}/index.html`);
  return { page, auth, dataDir };
}

async function enroll(page: Page) {
  await page.locator('#clinician-id').fill('dr.bo');
  await page.locator('#enroll-code').fill(backend.admin(['enroll-code', 'dr.bo']));
  await page.getByRole('button', { name: 'Create passkey' }).click();
}

test('the policy that requires PRF (the default) refuses such a passkey and leaves no cache or keychain entry behind', async () => {
  const { page, auth, dataDir } = await desktop('no-prf-forbidden');
  const entriesBefore = (await keytar.findCredentials(keychain.service)).length;
  try {
    await enroll(page);
    const error = page.getByTestId('signed-out-reason').or(page.getByTestId('signin-error'));
    await error.first().waitFor();
    assert.match(await error.first().innerText(), /requires a passkey that can protect the patient cache/);
    await screenshot(page, '15-prf-required');
    assert.equal(existsSync(dataDir) ? readdirSync(dataDir).length : 0, 0, 'nothing left on disk');
    assert.equal((await auth.status()).state, 'signed-out');
    assert.equal((await keytar.findCredentials(keychain.service)).length, entriesBefore, 'no keychain entry left behind');
  } finally {
    await page.close();
  }
});

test('with requirePrf relaxed explicitly, without PRF the cache key stays in the keychain unwrapped, and lock and unlock still work', async () => {
  backend.admin(['set-policy', 'requirePrf', 'false']);
  const { page, auth, dataDir } = await desktop('no-prf');
  try {
    await enroll(page);
    await page.getByText('Encrypted cache open').waitFor();
    const stored = await keychain.get(cacheKeyAccount(readProfile(dataDir)!.profileId));
    assert.ok(stored && !stored.startsWith('wrapped:'), 'raw cache key in the keychain (fallback)');
    await page.getByTestId('lock-button').click();
    await page.getByRole('button', { name: 'Unlock with passkey' }).click();
    await page.getByText('Encrypted cache open').waitFor();
  } finally {
    auth.lockNow('quit');
    await page.close();
  }
});
