/**
 * `npm run demo` (entry: test/browser/run-demo.ts): the whole product on a
 * machine where Electron cannot run. It composes the same pieces as the
 * browser tests (it lives in test/browser because it reuses their harness,
 * and test/ is the one folder allowed to import main, backend and renderer
 * alike): the real backend process on its embedded default (SQLite in a fresh
 * temporary folder, with a receipt key made for this run), loaded with
 * synthetic bundles only and a demo clinician assigned every patient; the
 * app's real main-process services (AuthService: encrypted cache, the OS
 * keychain the environment gives, under a service name of this run only);
 * the real renderer build served from localhost and opened in Chromium,
 * bound to those services through the harness's transport; a virtual
 * platform passkey (CDP WebAuthn, PRF on); and an enrollment through the real
 * enroll screen. The page is marked so the renderer shows its
 * "synthetic patients only" banner (renderer/src/DemoBanner.tsx).
 *
 * It must never load data that is not synthetic (only the shipped fixture
 * folders, or paths the operator declared synthetic), never use a database
 * or keychain service it did not create, never print an enrollment code, key,
 * token or patient detail, and never leave a keychain entry or a temporary
 * folder behind after `close`.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute, resolve, sep } from 'node:path';
import keytar from 'keytar';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import { createHandlerRegistry } from '../../electron/services/handler-registry';
import { createOsSecretStore, type SecretStore } from '../../electron/services/secret-store';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { SYNTHEA_DIR } from '../support/synthea';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { axeViolations } from './axe';
import { bindClinician, CHROMIUM_FLAGS, ROOT, serveRenderer, type RendererServer } from './harness';

/** The banner text the renderer shows on a demo page (renderer/src/DemoBanner.tsx). */
export const DEMO_NOTICE = 'Demo: synthetic patients only — not for clinical use';
export const DEMO_CLINICIAN = 'demo.clinician';
export const DEMO_CLINICIAN_NAME = 'Dr Demo Clinician';
export const CRITICAL_PATIENT_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
/** The shipped folders of synthetic data: the Synthea fixtures and the test fixtures. */
export const SHIPPED_FIXTURE_DIRS = [SYNTHEA_DIR, join(ROOT, 'test', 'fixtures')];
/** Prefix of the demo's one temporary folder (backend data, receipt key, desktop cache) in the OS temp folder. */
export const DEMO_TEMP_PREFIX = 'clinician-demo-';

/** A refusal the demo's command line answers with its own exit code and message (no path, no data). */
export class DemoError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Refused because the data might not be synthetic: exit 2. */
export const EXIT_NOT_SYNTHETIC = 2;

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The bundles the demo loads. Without `given`: the Synthea fixtures and the
 * critical patient (when it is there). With `given`: each path must be
 * inside a shipped fixture folder (after resolving links and `..`), unless
 * `declaredSynthetic` (the operator's --synthetic-data) says the data is
 * synthetic. Errors name the path by its position only.
 */
export function demoBundles(given: string[] | undefined, declaredSynthetic: boolean): string[] {
  if (!given || given.length === 0) return [SYNTHEA_DIR, ...(existsSync(CRITICAL_PATIENT_FILE) ? [CRITICAL_PATIENT_FILE] : [])];
  const shipped = SHIPPED_FIXTURE_DIRS.filter((d) => existsSync(d)).map(real);
  return given.map((path, i) => {
    if (!existsSync(path)) throw new DemoError(64, `--bundles path ${i + 1} of ${given.length} does not exist.`);
    const full = real(path);
    if (!declaredSynthetic && !shipped.some((dir) => inside(dir, full))) {
      throw new DemoError(
        EXIT_NOT_SYNTHETIC,
        `refused: --bundles path ${i + 1} of ${given.length} is not one of the shipped synthetic fixture folders. ` +
          'The demo shows synthetic patients only and never real patient data. If (and only if) this data is synthetic, say so with --synthetic-data.',
      );
    }
    return full;
  });
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Whether `<root>/dist/renderer` is missing or older than any of its sources (renderer/, shared/, the vite config). */
export function rendererIsStale(root: string = ROOT): boolean {
  const built = join(root, 'dist', 'renderer', 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(newestMtime(join(root, 'renderer')), newestMtime(join(root, 'shared')), newestMtime(join(root, 'build', 'vite.renderer.config.ts')));
  return sources > statSync(built).mtimeMs;
}

export function buildRenderer(): void {
  const r = spawnSync('npm', ['run', '-s', 'build:renderer'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new DemoError(1, 'the renderer build failed (npm run build:renderer); see its output above.');
}

/** The critical patient's given name, to open that chart for the screenshot (flags show there). */
function criticalPatientName(bundles: string[]): string | null {
  if (!bundles.some((b) => real(b) === real(CRITICAL_PATIENT_FILE))) return null;
  try {
    const bundle = JSON.parse(readFileSync(CRITICAL_PATIENT_FILE, 'utf8')) as { entry?: Array<{ resource?: { resourceType?: string; name?: Array<{ given?: string[] }> } }> };
    const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource;
    return patient?.name?.[0]?.given?.[0] ?? null;
  } catch {
    return null;
  }
}

/** Round-trips a throwaway entry, so a missing or locked keychain stops the demo before anything starts. */
async function checkKeychain(secrets: SecretStore): Promise<void> {
  const account = 'demo-keychain-check';
  try {
    await secrets.set(account, 'check');
    const back = await secrets.get(account);
    await secrets.delete(account);
    if (back !== 'check') throw new Error('round trip');
  } catch {
    throw new DemoError(
      1,
      'the demo needs an OS keychain (a Secret Service such as gnome-keyring on a D-Bus session), as the app does. ' +
        'On a machine without one, run it inside a private session: dbus-run-session -- bash test/with-keyring.sh npm run demo',
    );
  }
}

/** Deletes every entry of the demo's keychain service (the service name is this run's own). */
async function deleteKeychainService(service: string): Promise<void> {
  for (const { account } of await keytar.findCredentials(service)) await keytar.deletePassword(service, account);
}

export interface DemoOptions {
  bundles: string[];
  headed: boolean;
  /** Progress lines for the operator: never a code, key, token or patient detail. */
  log(line: string): void;
  /** Resolves when the operator asks to stop (Ctrl+C): start-up is cut short and everything started so far is torn down. */
  stopRequested?: Promise<unknown>;
}

export interface DemoDesktop {
  page: Page;
  browser: Browser;
  /** The demo's one temporary folder (removed by close). */
  tempDir: string;
  /** The keychain service name of this run (emptied by close). */
  keychainService: string;
  /** Resolves when the browser goes away (the window closed). */
  disconnected: Promise<void>;
  close(): Promise<void>;
}

const DEMO_MARK_SCRIPT = `(() => {
  const mark = () => document.documentElement && document.documentElement.setAttribute('data-clinician-demo', 'synthetic');
  if (document.documentElement) mark();
  else document.addEventListener('readystatechange', mark, { once: true });
})();`;

/** Starts everything and enrolls the demo clinician; on any failure, tears down what started and rethrows. */
export async function startDemoDesktop(options: DemoOptions): Promise<DemoDesktop> {
  const tempDir = mkdtempSync(join(tmpdir(), DEMO_TEMP_PREFIX));
  chmodSync(tempDir, 0o700);
  const keychainService = `org.clinician-desktop.demo.${randomUUID()}`;
  const secrets = createOsSecretStore(keychainService);
  let browser: Browser | null = null;
  let renderer: RendererServer | null = null;
  let backend: BackendProcess | null = null;
  let auth: AuthService | null = null;
  const timers: NodeJS.Timeout[] = [];
  let closed: Promise<void> | null = null;

  const teardown = async (): Promise<void> => {
    const failed: string[] = [];
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch {
        failed.push(name);
      }
    };
    for (const t of timers) clearInterval(t);
    // Lock and log out while the backend still answers, then the device's keys and files go (keychain first).
    if (auth) {
      const a = auth;
      await step('sign-out', () => a.quit());
      await step('wipe', () => a.wipe('The demo ended.'));
    }
    await step('keychain', () => deleteKeychainService(keychainService));
    if (browser) {
      const b = browser;
      await step('browser', () => b.close());
    }
    if (renderer) {
      const r = renderer;
      await step('renderer server', () => r.close());
    }
    if (backend) {
      const b = backend;
      await step('backend', () => b.dispose());
    }
    await step('temporary folder', () => rmSync(tempDir, { recursive: true, force: true }));
    if (failed.length > 0) throw new DemoError(1, `teardown did not finish: ${failed.join(', ')}`);
  };
  const close = () => (closed ??= teardown());
  // A stop during start-up: closing the page ends any wait on it at once; the other steps check the flag.
  // (Not the browser: teardown's own browser.close must be the one that waits for Chromium's profile folder to go.)
  let page: Page | null = null;
  let starting = true;
  let stopAsked = false;
  void options.stopRequested?.then(() => {
    stopAsked = starting;
    if (starting) void page?.close().catch(() => undefined);
  });
  const go = () => {
    if (stopAsked) throw new DemoError(0, 'stopped during start-up');
  };

  try {
    options.log(`temporary folder: ${tempDir} (removed on exit)`);
    await checkKeychain(secrets);
    go();
    options.log(`keychain: service ${keychainService} (this run only; emptied on exit)`);
    // Playwright's own signal handlers would close the browser and exit 130 in the middle of our teardown: the demo handles signals itself.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: !options.headed,
      args: options.headed ? [...CHROMIUM_FLAGS.filter((f) => f !== '--headless'), '--window-size=1366,900'] : CHROMIUM_FLAGS,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const disconnected = new Promise<void>((r) => browser!.once('disconnected', () => r()));
    go();
    renderer = await serveRenderer();
    // startBackend makes the receipt-signing key for this run beside the data folder (inside tempDir).
    options.log('backend: starting (SQLite in the temporary folder, a receipt key made for this run)…');
    backend = await startBackend({ dataDir: join(tempDir, 'backend'), origins: [renderer.origin], bundles: options.bundles });
    go();
    backend.admin(['add-clinician', DEMO_CLINICIAN, '--name', DEMO_CLINICIAN_NAME, '--assign-all']);
    const loaded = /\((\w+), (\d+) patients loaded\)/.exec(backend.output());
    options.log(`backend: ${backend.url} (${loaded?.[1] ?? 'sqlite'}, ${loaded?.[2] ?? '?'} synthetic patients, all assigned to ${DEMO_CLINICIAN})`);

    auth = new AuthService({ dataDir: join(tempDir, 'desktop'), secrets, backend: new BackendClient(backend.url), rpId: 'localhost', origins: [renderer.origin] });
    await auth.start();
    go();
    // As electron/main.ts does: the idle lock and the revocation check run on timers.
    const service = auth;
    timers.push(setInterval(() => service.tick(), 15_000).unref(), setInterval(() => void service.checkRevocation(), 5 * 60_000).unref());

    page = await browser.newPage(options.headed ? { viewport: null } : { viewport: { width: 1366, height: 768 } });
    await addVirtualAuthenticator(page, { prf: true });
    await bindClinician(page, createHandlerRegistry(auth, auth), renderer.origin);
    await page.addInitScript({ content: DEMO_MARK_SCRIPT });
    await page.goto(`${renderer.origin}/index.html`);
    options.log(`renderer: ${renderer.origin} (dist/renderer, bound to the services above)`);
    await page.locator('#clinician-id').fill(DEMO_CLINICIAN);
    await page.locator('#enroll-code').fill(backend.admin(['enroll-code', DEMO_CLINICIAN]));
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await page.getByText('Encrypted cache open').waitFor({ timeout: 60_000 });
    go();
    starting = false;
    options.log(`enrolled ${DEMO_CLINICIAN} with a virtual platform passkey (PRF) through the enroll screen; the encrypted cache is open`);
    return { page, browser, tempDir, keychainService, disconnected, close };
  } catch (err) {
    // A teardown that did not finish is the error worth reporting; else the one that stopped start-up.
    await close();
    throw err;
  }
}

async function visibleBanner(page: Page, where: string): Promise<void> {
  const banner = page.getByText(DEMO_NOTICE, { exact: true });
  await banner.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => {
    throw new DemoError(1, `check failed: the synthetic-data banner is not visible on the ${where}.`);
  });
  // axe-core over the page; the banner is the demo's own, so any serious or critical finding on it fails the check.
  const findings = await axeViolations(page);
  const onBanner: string[] = [];
  for (const f of findings) {
    for (const target of f.targets) {
      const hit = await page.evaluate(
        `(() => { try { return document.querySelector(${JSON.stringify(target)})?.closest('[data-testid="demo-banner"]') != null; } catch { return false; } })()`,
      );
      if (hit) onBanner.push(f.id);
    }
  }
  if (onBanner.length > 0) throw new DemoError(1, `check failed: axe finds the banner inaccessible on the ${where} (${[...new Set(onBanner)].join(', ')}).`);
}

/** The worklist's rows ("My patients", the home screen); they arrive with the first sync after enrollment. */
async function worklistRows(page: Page): Promise<ReturnType<Page['locator']>> {
  const rows = page.getByTestId('worklist-row');
  await rows.first().waitFor({ state: 'visible', timeout: 30_000 }).catch(() => {
    throw new DemoError(1, 'check failed: no worklist row is visible.');
  });
  return rows;
}

/**
 * The check: the banner and at least one patient row on the worklist, then
 * a chart (the critical patient's when loaded) with the banner still there;
 * a viewport screenshot of each (1366x768) in `screensDir`. Back on the
 * worklist at the end. Returns the files written.
 */
export async function checkAndScreenshot(page: Page, screensDir: string, bundles: string[]): Promise<{ worklist: string; chart: string }> {
  mkdirSync(screensDir, { recursive: true });
  await visibleBanner(page, 'worklist');
  const rows = await worklistRows(page);
  const worklist = join(screensDir, 'demo-worklist.png');
  await page.screenshot({ path: worklist });

  const name = criticalPatientName(bundles);
  const row = name ? rows.filter({ hasText: name }).first() : rows.first();
  await ((await row.count()) > 0 ? row : rows.first()).click();
  await page.getByTestId('chart').waitFor({ state: 'visible', timeout: 20_000 }).catch(() => {
    throw new DemoError(1, 'check failed: the chart did not open.');
  });
  await visibleBanner(page, 'chart');
  const chart = join(screensDir, 'demo-chart.png');
  await page.screenshot({ path: chart });
  await page.keyboard.press('Escape');
  return { worklist, chart };
}
