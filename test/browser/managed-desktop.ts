/**
 * A desktop for the settings and update screens, in Chromium: a real
 * encrypted cache (real keychain) opened without sign-in, so the workspace
 * shows Settings, and the app's handler registry bound with the given
 * settings and update surfaces (the same createHandlerRegistry the app uses;
 * only the transport differs). `close` tears it all down.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import type { AppSurfaces } from '../../electron/services/app-surfaces';
import { CacheHolder } from '../support/cache-holder';
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
  close(): Promise<void>;
}

export async function managedDesktop(name: string): Promise<ManagedDesktop> {
  const keychain = testKeychain();
  const scratch = scratchDir(name);
  const cache = new CacheHolder();
  await cache.open({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.test', create: true });
  const [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
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
    async close() {
      await browser.close();
      await renderer.close();
      cache.close();
      scratch.remove();
      await keychain.cleanup();
    },
  };
}
