/**
 * A clinician's desktop for the charting browser tests that must survive a
 * quit: like enrolled-desktop.ts (real backend process, TCP proxy, the
 * app's AuthService, a page enrolled through the real enroll screen with a
 * virtual platform authenticator, PRF on), but the page's `window.clinician`
 * is served by whichever AuthService is current, so `quitAndRestart()` can
 * quit the app as the app quits (sync stopped, cache locked and closed, the
 * window gone) and start a new AuthService on the same data folder and
 * keychain, then open the renderer again in the same tab, whose platform
 * authenticator (like the OS's) still holds the passkey. `db()` is the
 * test's own connection to the signed-in session's cache file
 * (./desktop-cache.ts).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { CacheDatabase } from '../../electron/services/cache-database';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { createHandlerRegistry, type HandlerRegistry } from '../../electron/services/handler-registry';
import type { SecretStore } from '../../electron/services/secret-store';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { desktopCache } from './desktop-cache';
import { bindClinician, launchChromium, serveRenderer, type RendererServer } from './harness';

/** Waits until the form control `selector` holds exactly `text` (a function run in the page: the CSP forbids evaluating strings). */
export async function waitValue(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => (globalThis as unknown as { document: { querySelector(s: string): { value?: string } | null } }).document.querySelector(sel)?.value === expected,
    [selector, text] as const,
  );
}

export interface ChartingDesktop {
  browser: Browser;
  renderer: RendererServer;
  backend: BackendProcess;
  proxy: TcpProxy;
  page: Page;
  auth(): AuthService;
  /** The test's own connection to the current app's open session's cache file (closed when the session closes); rejects while locked. */
  db(): Promise<CacheDatabase>;
  /** Quits the app (as enrolled-desktop's close does, but the backend stays) and starts it again on the same folder and keychain; the page shows the sign-in screen. */
  quitAndRestart(): Promise<void>;
  close(): Promise<void>;
}

export async function chartingDesktop(dir: string, keychain: SecretStore, options: { viewport?: { width: number; height: number } } = {}): Promise<ChartingDesktop> {
  const [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  const backend = await startBackend({ dataDir: join(dir, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.kim', '--name', 'Dr Kim Lee', '--assign-all']);
  // No undo window: these tests are about charting and sync (undo-window.test.ts keeps the default window).
  backend.admin(['set-policy', 'undoSeconds', '0']);
  const proxy = await startTcpProxy(backend.port);
  const newAuth = async () => {
    const a = new AuthService({ dataDir: join(dir, 'desktop'), secrets: keychain, backend: new BackendClient(proxy.url, 3000), rpId: 'localhost', origins: [renderer.origin] });
    await a.start();
    return a;
  };
  let auth = await newAuth();
  let registry = createHandlerRegistry(auth, auth);
  // Every call goes to the current app's registry (a restart swaps it).
  const current = new Proxy({} as HandlerRegistry, { get: (_t, name) => registry[name as keyof HandlerRegistry] });
  const page = await browser.newPage({ viewport: options.viewport ?? { width: 1366, height: 768 } });
  await addVirtualAuthenticator(page, { prf: true });
  const cache = desktopCache(keychain);
  await bindClinician(page, cache.watch(current), renderer.origin);
  await page.goto(`${renderer.origin}/index.html`);
  await page.locator('#clinician-id').fill('dr.kim');
  await page.locator('#enroll-code').fill(backend.admin(['enroll-code', 'dr.kim']));
  await page.getByRole('button', { name: 'Create passkey' }).click();
  await page.getByText('Encrypted cache open').waitFor();

  // The app's own quit: locks at once, stops sync, lets the logout and the device's audit head settle.
  const quit = (a: AuthService) => a.quit();
  return {
    browser,
    renderer,
    backend,
    proxy,
    page,
    auth: () => auth,
    db: () => cache.db(auth.session()),
    async quitAndRestart() {
      // The window goes first (its pagehide flushes what waits), then the app quits.
      await page.goto('about:blank');
      await quit(auth);
      auth = await newAuth();
      registry = createHandlerRegistry(auth, auth);
      await page.goto(`${renderer.origin}/index.html`);
    },
    async close() {
      await quit(auth);
      await page.close();
      await browser.close();
      await renderer.close();
      await proxy.close();
      await backend.dispose();
    },
  };
}
