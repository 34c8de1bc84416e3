/**
 * `npm run demo [-- --check] [--headless] [--screens DIR] [--no-build] [--bundles PATH... --synthetic-data]`:
 * the command line of the demo (test/browser/demo-desktop.ts does the work).
 * It lives beside the browser harness it reuses; build/ is for packaging
 * resources and may not import the app's code.
 *
 * Synthetic data only: without --bundles it loads the shipped fixtures
 * (../shared/fixtures/synthea and test/fixtures/critical-patient.json); a
 * --bundles path outside the shipped fixture folders is refused (exit 2)
 * unless --synthetic-data declares it synthetic. Headed Chromium when a
 * display exists (DISPLAY or WAYLAND_DISPLAY), else headless with screenshots.
 * --check: check the banner, a worklist row and a chart, save the
 * screenshots, tear down and exit 0. Ctrl+C (SIGINT), SIGTERM or SIGHUP tears down
 * everything (backend, keychain entries, temporary folder) and exits 0.
 * Exit codes: 0 done, 1 failed, 2 refused (data not known to be synthetic), 64 usage.
 * Never print an enrollment code, key, token or patient detail.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildRenderer, checkAndScreenshot, demoBundles, DemoError, rendererIsStale, startDemoDesktop, type DemoDesktop } from './demo-desktop';
import { SCREENS_DIR } from './harness';

const USAGE = `usage: npm run demo [-- --check] [--headless] [--screens DIR] [--no-build] [--bundles PATH... --synthetic-data]
  --check           check the banner, the worklist and a chart, save screenshots, then stop (exit 0)
  --headless        no window even when a display exists
  --screens DIR     where the screenshots go (default test-results/screens)
  --no-build        use dist/renderer as it is (default: build it when missing or older than its sources)
  --bundles PATH    FHIR bundles (files or folders) instead of the shipped synthetic fixtures;
                    refused unless inside the shipped fixture folders or given with --synthetic-data
  --synthetic-data  declare that the --bundles data is synthetic (never real patients)`;

const say = (line: string) => process.stdout.write(`demo: ${line}\n`);
// A closed terminal or pipe must not crash the demo before its teardown.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

function fail(err: unknown): number {
  if (err instanceof DemoError) {
    process.stderr.write(`demo: error: ${err.message}\n`);
    return err.exitCode;
  }
  const first = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]!.slice(0, 300)}` : 'failed';
  process.stderr.write(`demo: error: ${first}\n`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        check: { type: 'boolean', default: false },
        headless: { type: 'boolean', default: false },
        screens: { type: 'string' },
        'no-build': { type: 'boolean', default: false },
        bundles: { type: 'string', multiple: true },
        'synthetic-data': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : 'bad arguments'}\n${USAGE}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let bundles: string[];
  try {
    bundles = demoBundles(values.bundles, values['synthetic-data']);
  } catch (err) {
    return fail(err);
  }
  say(values.bundles ? `data: ${bundles.length} bundle path(s)${values['synthetic-data'] ? ', declared synthetic (--synthetic-data)' : ' from the shipped synthetic fixtures'}` : 'data: the shipped synthetic fixtures (Synthea and the critical patient)');

  // The embedded default: SQLite in the demo's own folder, never a database the environment points at.
  delete process.env.DATABASE_URL;

  const display = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  const headed = display && !values.headless;
  const screensDir = resolve(values.screens ?? SCREENS_DIR);
  if (!display) say(`NO DISPLAY (neither DISPLAY nor WAYLAND_DISPLAY is set): Chromium runs headless; screenshots go to ${screensDir}`);
  else if (!headed) say(`headless (--headless); screenshots go to ${screensDir}`);

  if (values['no-build']) {
    if (rendererIsStale() && !values.check) say('renderer: dist/renderer may be older than its sources (--no-build)');
  } else if (rendererIsStale()) {
    say('renderer: dist/renderer is missing or older than its sources; building it…');
    try {
      buildRenderer();
    } catch (err) {
      return fail(err);
    }
  }

  // Ctrl+C, SIGTERM or the terminal closing (SIGHUP): stop once, whatever the phase (a repeated signal, as npm relays the terminal's, changes nothing).
  let stop!: (signal: string) => void;
  const stopped = new Promise<string>((r) => (stop = r));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping (backend, keychain entries, temporary folder)…`);
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  let demo: DemoDesktop | null = null;
  let code = 0;
  let tornDown = true;
  try {
    demo = await startDemoDesktop({ bundles, headed, log: say, stopRequested: stopped });
    if (values.check || !headed) {
      const files = await checkAndScreenshot(demo.page, screensDir, bundles);
      say(`screenshot of the worklist: ${files.worklist}`);
      say(`screenshot of a chart: ${files.chart}`);
      if (values.check) say('check passed: the synthetic-data banner, a worklist row and a chart were visible');
    }
    if (!values.check) {
      say(headed ? 'ready: the browser shows the worklist. Close the window or press Ctrl+C here to stop.' : 'ready (headless). Press Ctrl+C to stop.');
      const why = await Promise.race([stopped, demo.disconnected.then(() => 'window closed')]);
      if (why === 'window closed') say('the browser window closed: stopping…');
    }
  } catch (err) {
    // A start-up that failed has torn down what it started, or says it could not (then that is the error).
    if (err instanceof DemoError && err.message.startsWith('teardown')) tornDown = false;
    code = stopping && !(err instanceof DemoError && err.exitCode !== 0) ? 0 : fail(err);
  } finally {
    if (demo) {
      try {
        await demo.close();
      } catch (err) {
        tornDown = false;
        code = fail(err);
      }
    }
  }
  if (tornDown) say('stopped: backend ended, keychain entries deleted, temporary folder removed');
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(fail(err)),
);
