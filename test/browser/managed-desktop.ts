/**
 * A desktop for the settings and update screens, in Chromium: a real
 * encrypted cache (real keychain) opened without sign-in, so the workspace
 * shows Settings, and the app's handler registry bound with the given
 * settings and update surfaces (the same createHandlerRegistry the app uses;
 * only the transport differs). `close` tears it all down. `signIn` opens a
 * page signed in for real instead: the reference backend as a process, an
 * enrolled clinician, a passkey on Chromium's virtual authenticator and the
 * app's AuthService (the top bar as a clinician sees it: search, sync, name,
 * Settings, Devices, Lock).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import type { AppSurfaces } from '../../electron/services/app-surfaces';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { CacheHolder } from '../support/cache-holder';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { scratchDir } from '../support/scratch';
import { testKeychain } from '../support/test-keychain';
import { bindClinician, launchChromium, serveRenderer, type RendererServer } from './harness';

export interface ManagedDesktop {
  browser: Browser;
  renderer: RendererServer;
  /** A scratch folder for the test's own files (a policy file, update data). */
  dir: string;
  /** A new page (1366x768 unless told) with the workspace open (the encrypted cache open); `beforeLoad` runs before the app loads. */
  open(surfaces: AppSurfaces, options?: { viewport?: { width: number; height: number }; beforeLoad?: (page: Page) => Promise<void> }): Promise<Page>;
  /** A new page signed in as a newly enrolled clinician (`displayName`) against a real backend, with these surfaces; `auth` locks it. */
  signIn(surfaces: AppSurfaces, options: { displayName: string; viewport?: { width: number; height: number } }): Promise<{ page: Page; auth: AuthService }>;
  close(): Promise<void>;
}

export async function managedDesktop(name: string): Promise<ManagedDesktop> {
  const keychain = testKeychain();
  const scratch = scratchDir(name);
  const cache = new CacheHolder();
  await cache.open({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.test', create: true });
  const [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  let backend: BackendProcess | null = null;
  let signIns = 0;
  const auths: AuthService[] = [];
  return {
    browser,
    renderer,
    dir: scratch.path,
    async open(surfaces, options = {}) {
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1366, height: 768 } });
      await bindClinician(page, createHandlerRegistry(cache, undefined, surfaces), renderer.origin);
      await options.beforeLoad?.(page);
      await page.goto(`${renderer.origin}/index.html`);
      await page.getByText('Encrypted cache open').waitFor();
      return page;
    },
    async signIn(surfaces, options) {
      if (!backend) {
        backend = await startBackend({ dataDir: join(scratch.path, 'backend'), origins: [renderer.origin] });
        backend.admin(['set-policy', 'undoSeconds', '0']);
      }
      const id = `dr.t${signIns++}`;
      backend.admin(['add-clinician', id, '--name', options.displayName, '--assign-all']);
      const auth = new AuthService({ dataDir: join(scratch.path, id), secrets: keychain, backend: new BackendClient(backend.url, 3000), rpId: 'localhost', origins: [renderer.origin] });
      await auth.start();
      auths.push(auth);
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1366, height: 768 } });
      await addVirtualAuthenticator(page, { prf: true });
      await bindClinician(page, createHandlerRegistry(auth, auth, surfaces), renderer.origin);
      await page.goto(`${renderer.origin}/index.html`);
      await page.locator('#clinician-id').fill(id);
      await page.locator('#enroll-code').fill(backend.admin(['enroll-code', id]));
      await page.getByRole('button', { name: 'Create passkey' }).click();
      await page.getByText('Encrypted cache open').waitFor();
      return { page, auth };
    },
    async close() {
      for (const auth of auths) {
        await auth.stopSync();
        auth.lockNow('quit');
      }
      await backend?.dispose();
      await browser.close();
      await renderer.close();
      cache.close();
      scratch.remove();
      await keychain.cleanup();
    },
  };
}
