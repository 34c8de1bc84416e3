/**
 * A clinician's desktop, enrolled and signed in, in Chromium, for browser
 * tests of what comes after sign-in: the real backend process (SQLite) with
 * dr.kim assigned every fixture patient, a TCP proxy in front of it that the
 * test controls (the network), the app's AuthService talking through that
 * proxy, and a page that enrolled through the real enroll screen with a
 * virtual platform authenticator (PRF on). `db()` is the test's own
 * connection to the signed-in session's cache file (./desktop-cache.ts).
 * `close` tears it all down, the cache's worker closed before it resolves.
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

export interface EnrolledDesktop {
  browser: Browser;
  renderer: RendererServer;
  backend: BackendProcess;
  proxy: TcpProxy;
  auth: AuthService;
  page: Page;
  /** The test's own connection to the open session's cache file (closed when the session closes); rejects while locked. */
  db(): Promise<CacheDatabase>;
  close(): Promise<void>;
}

export interface EnrolledDesktopOptions {
  /** Extra backend flags, e.g. ['--bundles', SYNTHEA_DIR, '--bundles', CRITICAL_PATIENT_FILE]. */
  backendFlags?: string[];
  viewport?: { width: number; height: number };
  /** The organisation's undo window (set-policy undoSeconds); default 0 here, so sync tests do not wait for it (undo-window.test.ts keeps the default). */
  undoSeconds?: number;
  /** Another Chromium launch (e.g. launchMediaChromium: fake camera and microphone for consultations). */
  launch?: () => Promise<Browser>;
  /** The registry the page is bound to, as the app builds it with its surfaces (default: createHandlerRegistry(auth, auth)). */
  registry?: (auth: AuthService, backend: BackendClient) => HandlerRegistry;
}

export async function enrolledDesktop(dir: string, keychain: SecretStore, options: EnrolledDesktopOptions = {}): Promise<EnrolledDesktop> {
  const [browser, renderer] = await Promise.all([(options.launch ?? launchChromium)(), serveRenderer()]);
  const backend = await startBackend({ dataDir: join(dir, 'backend'), origins: [renderer.origin], ...(options.backendFlags ? { flags: options.backendFlags } : {}) });
  backend.admin(['add-clinician', 'dr.kim', '--name', 'Dr Kim Lee', '--assign-all']);
  backend.admin(['set-policy', 'undoSeconds', String(options.undoSeconds ?? 0)]);
  const proxy = await startTcpProxy(backend.port);
  const client = new BackendClient(proxy.url, 3000);
  const auth = new AuthService({ dataDir: join(dir, 'desktop'), secrets: keychain, backend: client, rpId: 'localhost', origins: [renderer.origin] });
  await auth.start();
  const page = await browser.newPage({ viewport: options.viewport ?? { width: 1366, height: 768 } });
  await addVirtualAuthenticator(page, { prf: true });
  const cache = desktopCache(keychain);
  await bindClinician(page, cache.watch(options.registry ? options.registry(auth, client) : createHandlerRegistry(auth, auth)), renderer.origin);
  await page.goto(`${renderer.origin}/index.html`);
  await page.locator('#clinician-id').fill('dr.kim');
  await page.locator('#enroll-code').fill(backend.admin(['enroll-code', 'dr.kim']));
  await page.getByRole('button', { name: 'Create passkey' }).click();
  await page.getByText('Encrypted cache open').waitFor();
  return {
    browser,
    renderer,
    backend,
    proxy,
    auth,
    page,
    db: () => cache.db(auth.session()),
    async close() {
      await auth.stopSync();
      const session = auth.session();
      auth.lockNow('quit');
      // The worker signs the head and lets go of the file before the test removes the folder and the keychain.
      await session?.close();
      await page.close();
      await browser.close();
      await renderer.close();
      await proxy.close();
      await backend.dispose();
    },
  };
}
