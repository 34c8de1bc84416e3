/**
 * The browser harness: serves the renderer build from http://localhost (a
 * secure context, as WebAuthn will need), drives Debian's Chromium through
 * playwright-core, and binds `window.clinician` through page.exposeBinding
 * to the same handler registry and dispatch the app binds to ipcMain. Only
 * the transport differs from the app.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { loadRendererAsset } from '../../electron/services/renderer-assets';
import { dispatch, type HandlerRegistry } from '../../electron/services/handler-registry';
import type { CallName } from '../../shared/contract';

export const ROOT = resolve(process.env.CLINICIAN_TEST_ROOT ?? process.cwd());
export const RENDERER_DIR = join(ROOT, 'dist', 'renderer');
export const SCREENS_DIR = join(ROOT, 'test-results', 'screens');

export interface RendererServer {
  origin: string;
  close(): Promise<void>;
}

export async function serveRenderer(): Promise<RendererServer> {
  const server: Server = createServer((req, res) => {
    void loadRendererAsset(RENDERER_DIR, req.url ?? '/').then((asset) => {
      res.writeHead(asset.status, asset.headers);
      res.end(asset.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://localhost:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
}

const bundles = new Map<string, string>();

/** One of test/browser's page scripts, bundled for addInitScript. */
function pageScript(name: string): string {
  let text = bundles.get(name);
  if (!text) {
    text = buildSync({
      entryPoints: [join(ROOT, 'test', 'browser', name)],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'chrome120',
    }).outputFiles[0]!.text;
    bundles.set(name, text);
  }
  return text;
}

function harnessPreload(): string {
  return pageScript('harness-preload.ts');
}

/** Gives a page `window.__webauthn.createPasskey/usePasskey` (the renderer's ceremony code). */
export async function addWebAuthnHelper(page: Page): Promise<void> {
  await page.addInitScript({ content: pageScript('webauthn-page-helper.ts') });
}

/** Gives the page `window.clinician`, served by `registry` through `dispatch`, trusting only `origin`. */
export async function bindClinician(page: Page, registry: HandlerRegistry, origin: string): Promise<void> {
  await page.exposeBinding('__clinicianTransport', (source, name: CallName, input: unknown) =>
    dispatch(registry, name, input, { url: source.frame.url(), isMainFrame: source.frame === source.page.mainFrame() }, { trustedOrigins: [origin] }),
  );
  await page.addInitScript({ content: harnessPreload() });
}

/** Saves test-results/screens/<name>.png: the viewport ("what the screen shows") unless `fullPage`. */
/** Waits until `within` (a chart panel, a dialog) shows no "Reading …" status: what it reads when shown has come. */
export async function readsDone(within: Locator): Promise<void> {
  await within.locator('[role=status]', { hasText: /^Reading / }).first().waitFor({ state: 'detached' });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENS_DIR, `${name}.png`), fullPage: options.fullPage ?? false });
}
