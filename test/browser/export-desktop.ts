/**
 * A desktop for the export and print browser tests: a real encrypted cache
 * (real keychain) with the Synthea patients and a long synthetic chart
 * imported, the renderer build in Chromium, and the app's handler registry
 * (createHandlerRegistry, as main builds it) with X's real export surface
 * (createExportSurface) behind export.* and print.*. Only what needs the
 * Electron binary is stood in for, and said so: the OS save dialog is a
 * SaveDestination that answers with a path in this test's own folder (or
 * cancels when told), and webContents.printToPDF / webContents.print are
 * Chromium's own print-to-PDF of the SAME page (playwright page.pdf(), the
 * engine Electron's printToPDF uses), called while the renderer's print
 * view is mounted; "paper" is kept as a PDF in the folder too, so the test
 * reads what the printer would have been given. Policy is a value the test
 * changes (as IT's policy can change while the app runs). `db()` is the
 * test's own connection to the cache file (../support/cache-inspect.ts).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { CacheDatabase } from '../../electron/services/cache-database';
import { importBundle } from '../../electron/services/bundle-import';
import { createExportSurface } from '../../electron/services/export/export-surface';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import type { ExportFormat } from '../../shared/contract';
import { CacheHolder } from '../support/cache-holder';
import { inspectCache } from '../support/cache-inspect';
import { scratchDir } from '../support/scratch';
import { SYNTHEA_FILES } from '../support/synthea';
import { testKeychain } from '../support/test-keychain';
import { bindClinician, launchChromium, serveRenderer, type RendererServer } from './harness';
import { longChartBundle, type LongChartCounts } from './print-long-chart';

export const CLINICIAN_NAME = 'Dr Tess Printwell';
export const LONG_PATIENT_ID = 'print-long-0001';
export const LONG_FAMILY = 'Longchart';
/** Many vitals and notes: the printed summary runs over several A4 pages. */
export const LONG_COUNTS: LongChartCounts = { conditions: 10, allergies: 3, medications: 12, vitals: 120, notes: 24 };

/** As X's print output renders the window (A4, backgrounds). */
export const PDF_OPTIONS = { format: 'A4', printBackground: true } as const;

export interface ExportDesktop {
  browser: Browser;
  /** The folder the stand-in save dialog answers with (files appear here). */
  saveDir: string;
  /** The formats IT's policy allows now; change it between or during tests. */
  policy: { formats: ExportFormat[] };
  /** Stand-in OS dialogs: the next save dialog (or print dialog) is cancelled when true (then reset). */
  cancelNext: { save: boolean; print: boolean };
  /** What the page showed each time main printed it (print.output): the print view's watermark time, or null without a print view. */
  outputs: Array<{ kind: 'pdf' | 'printer'; watermarkTime: string | null }>;
  cache: CacheHolder;
  /** The test's own connection to the open session's cache file (closed when the session closes). */
  db(): Promise<CacheDatabase>;
  open(options?: { viewport?: { width: number; height: number } }): Promise<{ page: Page; problems: string[] }>;
  /** Files in saveDir (names only), oldest first by name. */
  savedFiles(): string[];
  close(): Promise<void>;
}

export interface ExportDesktopOptions {
  formats?: ExportFormat[];
  /** The long chart's size (default LONG_COUNTS). */
  longChart?: LongChartCounts;
  /** Loads the Synthea patients too (default true). */
  synthea?: boolean;
  /** Replaces the printToPDF stand-in (the benchmark times it); default page.pdf(PDF_OPTIONS). */
  pdf?: (page: Page) => Promise<Uint8Array>;
}

export async function exportDesktop(name: string, options: ExportDesktopOptions = {}): Promise<ExportDesktop> {
  const formats = options.formats ?? ['fhir-json', 'pdf', 'printer'];
  const keychain = testKeychain();
  const scratch = scratchDir(name);
  const saveDir = join(scratch.path, 'saved');
  mkdirSync(saveDir, { recursive: true, mode: 0o700 });
  const cache = new CacheHolder();
  await cache.open({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.printwell', actorName: CLINICIAN_NAME, create: true });
  const session = cache.session();
  if (!session) throw new Error('the cache did not open');
  if (options.synthea !== false) for (const file of SYNTHEA_FILES) await importBundle(session, readFileSync(file));
  await importBundle(session, Buffer.from(JSON.stringify(longChartBundle(LONG_PATIENT_ID, LONG_FAMILY, options.longChart ?? LONG_COUNTS))));
  const [browser, server]: [Browser, RendererServer] = await Promise.all([launchChromium(), serveRenderer()]);
  const policy = { formats: [...formats] };
  const cancelNext = { save: false, print: false };
  const outputs: ExportDesktop['outputs'] = [];
  const seen = async (page: Page, kind: 'pdf' | 'printer') => {
    const view = page.getByTestId('print-view');
    outputs.push({ kind, watermarkTime: (await view.count()) > 0 ? await view.getAttribute('data-watermark-time') : null });
  };
  let n = 0;
  const pages: Page[] = [];
  return {
    browser,
    saveDir,
    policy,
    cancelNext,
    outputs,
    cache,
    async db() {
      const open = cache.session();
      if (!open) throw new Error('the cache is not open');
      return inspectCache(open, keychain);
    },
    async open(pageOptions = {}) {
      const page = await browser.newPage({ viewport: pageOptions.viewport ?? { width: 1366, height: 768 }, timezoneId: 'UTC', locale: 'en-GB' });
      pages.push(page);
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.name}`));
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text().slice(0, 200)}`));
      const exports = createExportSurface({
        session: () => cache.session(),
        policy: () => ({ formats: policy.formats, screenCaptureProtection: true }),
        destination: {
          // Stand-in for the OS save dialog: a path in the test's folder, never one from the renderer.
          async choose(request) {
            if (cancelNext.save) {
              cancelNext.save = false;
              return null;
            }
            return join(saveDir, `${String(++n).padStart(2, '0')}-${request.suggestedName}`);
          },
        },
        printer: {
          // Stand-in for webContents.print: what the printer would get, kept as a PDF of the same page.
          async print() {
            if (cancelNext.print) {
              cancelNext.print = false;
              return false;
            }
            await seen(page, 'printer');
            writeFileSync(join(saveDir, `${String(++n).padStart(2, '0')}-printer.pdf`), await page.pdf(PDF_OPTIONS));
            return true;
          },
          // Stand-in for webContents.printToPDF: Chromium's own print-to-PDF of the same page.
          async pdf() {
            await seen(page, 'pdf');
            return options.pdf ? options.pdf(page) : page.pdf(PDF_OPTIONS);
          },
        },
      });
      await bindClinician(page, createHandlerRegistry(cache, undefined, { exports }), server.origin);
      await page.goto(`${server.origin}/index.html`);
      await page.locator('#patient-search').waitFor();
      return { page, problems };
    },
    savedFiles: () => readdirSync(saveDir).sort(),
    async close() {
      for (const p of pages) await p.close().catch(() => undefined);
      await browser.close();
      await server.close();
      const open = cache.session();
      cache.close();
      // The worker signs the head and lets go of the file before the folder and the keychain go.
      await open?.close();
      scratch.remove();
      await keychain.cleanup();
    },
  };
}

/** Search by name and open the chart with Enter, on the Summary tab. */
export async function openChart(page: Page, name: string): Promise<void> {
  await page.locator('#patient-search').fill(name.toLowerCase());
  try {
    await page.getByTestId('patient-result').first().waitFor();
  } catch (error) {
    // Seen once in CI (not reproduced): say what the page was doing, without any name.
    const state = await page.evaluate(() => ({
      typed: (document.querySelector('#patient-search') as HTMLInputElement | null)?.value.length ?? -1,
      focus: document.activeElement?.id || document.activeElement?.tagName || null,
      listHidden: document.querySelector('#patient-results')?.hasAttribute('hidden') ?? null,
      results: document.querySelectorAll('[data-testid="patient-result"]').length,
      searchError: document.querySelector('.search-popup .error') !== null,
      main: document.querySelector('main')?.getAttribute('aria-label') ?? null,
    }));
    throw new Error(`no search result shown: ${JSON.stringify(state)}`, { cause: error });
  }
  await page.locator('#patient-search').press('Enter');
  await page.getByTestId('chart').waitFor();
  await page.getByRole('tab', { name: 'Summary' }).click();
}
