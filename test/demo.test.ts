/**
 * `npm run demo` (test/browser/run-demo.ts) as a newcomer runs it, in a child
 * process with no display, against the keychain test/run-tests.sh gives
 * (the demo must use the environment's keychain) and a temp folder of the
 * test's own (TMPDIR), so what it leaves behind can be seen: its check
 * passes only with the synthetic-data banner and a patient row on screen;
 * it refuses data that is not known to be synthetic before starting
 * anything; and --check, Ctrl+C and SIGTERM leave no keychain entry, temp
 * folder or backend behind. --no-build: the test serves the renderer the
 * test run built (npm test builds it first), never rebuilding it under other
 * browser tests.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import keytar from 'keytar';
import { ROOT } from './browser/harness';
import { DEMO_TEMP_PREFIX, rendererIsStale } from './browser/demo-desktop';
import { scratchDir } from './support/scratch';
import { SYNTHEA_FILES } from './support/synthea';

const scratch = scratchDir('demo-test');
after(() => scratch.remove());

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Starts `npm run demo -- args` in its own process group (as a terminal would), with no display and TMPDIR = tmp. */
function startDemo(args: string[], tmp: string) {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) throw new Error('This test needs the keyring started by `npm test` (test/run-tests.sh).');
  const child = spawn('npm', ['run', '-s', 'demo', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmp, DISPLAY: '', WAYLAND_DISPLAY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const run: Run = { stdout: '', stderr: '', code: null };
  const lineWaiters: Array<{ text: string; resolve(): void }> = [];
  child.stdout.on('data', (d: Buffer) => {
    run.stdout += d.toString();
    for (const w of lineWaiters.filter((w) => run.stdout.includes(w.text))) w.resolve();
  });
  child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
  // Bounded: a demo that hangs is killed (its whole group) and the test fails.
  const limit = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 150_000);
  const exited = new Promise<Run>((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      run.code = code ?? (signal ? -1 : null);
      resolve(run);
    }),
  );
  return {
    run,
    exited,
    /** Resolves when stdout has shown `text` (rejects if the demo exits first). */
    printed(text: string): Promise<void> {
      if (run.stdout.includes(text)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        lineWaiters.push({ text, resolve });
        void exited.then(() => (run.stdout.includes(text) ? resolve() : reject(new Error(`the demo exited (${run.code}) before printing "${text}": ${run.stdout}\n${run.stderr}`))));
      });
    },
    /** A signal to the whole process group, as Ctrl+C in a terminal sends SIGINT to npm, node and the backend alike. */
    signalGroup(signal: NodeJS.Signals) {
      process.kill(-child.pid!, signal);
    },
  };
}

function printedValue(stdout: string, pattern: RegExp): string {
  const m = pattern.exec(stdout);
  assert.ok(m, `the demo's output names it (${pattern}): ${stdout}`);
  return m[1]!;
}

/** What the demo (and the Chromium it drove) left in its TMPDIR, apart from tsx's compile cache. */
function leftovers(tmp: string): string[] {
  return readdirSync(tmp).filter((name) => !name.startsWith('tsx-'));
}

function pngSize(file: string): { width: number; height: number } {
  const png = readFileSync(file);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function portRefuses(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });
}

async function assertTornDown(run: Run, tmp: string): Promise<void> {
  const service = printedValue(run.stdout, /keychain: service (\S+)/);
  assert.deepEqual(await keytar.findCredentials(service), [], 'no keychain entry of the demo is left');
  const tempDir = printedValue(run.stdout, /temporary folder: (\S+)/);
  assert.ok(tempDir.startsWith(join(tmp, DEMO_TEMP_PREFIX)), 'the demo made its folder in the TMPDIR it was given');
  assert.equal(existsSync(tempDir), false, 'the demo temporary folder is removed');
  assert.deepEqual(leftovers(tmp), [], `nothing else is left in TMPDIR (no Chromium profile, no key file): ${leftovers(tmp).join(', ')}`);
  const backend = /backend: (http:\/\/\S+)/.exec(run.stdout)?.[1];
  if (backend) assert.equal(await portRefuses(backend), true, 'the backend is stopped');
  assert.match(run.stdout, /stopped: backend ended, keychain entries deleted, temporary folder removed/);
}

test('npm run demo -- --check, with no display: headless, the banner and a patient row on the worklist and a chart, screenshots it names, then nothing left', async () => {
  const tmp = scratchDir('demo-tmp');
  const screens = join(scratch.path, 'screens');
  try {
    const demo = startDemo(['--check', '--no-build', '--screens', screens], tmp.path);
    const run = await demo.exited;
    assert.equal(run.code, 0, `exit 0: ${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /NO DISPLAY \(neither DISPLAY nor WAYLAND_DISPLAY is set\): Chromium runs headless/);
    assert.match(run.stdout, /data: the shipped synthetic fixtures/);
    // The check mode fails (exit 1) unless the banner and a row are visible; it says what it saw.
    assert.match(run.stdout, /check passed: the synthetic-data banner, a worklist row and a chart were visible/);
    const worklist = printedValue(run.stdout, /screenshot of the worklist: (\S+)/);
    const chart = printedValue(run.stdout, /screenshot of a chart: (\S+)/);
    assert.equal(worklist, join(screens, 'demo-worklist.png'));
    assert.equal(chart, join(screens, 'demo-chart.png'));
    assert.deepEqual(pngSize(worklist), { width: 1366, height: 768 });
    assert.deepEqual(pngSize(chart), { width: 1366, height: 768 });
    // Nothing secret on the console: no enrollment code (groups of four Crockford base32 characters).
    assert.doesNotMatch(run.stdout + run.stderr, /\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/);
    await assertTornDown(run, tmp.path);
  } finally {
    tmp.remove();
  }
});

test('the demo rebuilds the renderer when dist/renderer is missing or older than renderer/, shared/ or the vite config', () => {
  const root = join(scratch.path, 'stale-root');
  const file = (path: string, seconds: number) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), 'x');
    utimesSync(join(root, path), seconds, seconds);
  };
  for (const d of ['renderer', 'shared', 'build']) mkdirSync(join(root, d), { recursive: true });
  file('renderer/src/App.tsx', 1000);
  file('shared/contract.ts', 1000);
  file('build/vite.renderer.config.ts', 1000);
  for (const d of ['renderer', 'renderer/src', 'shared', 'build']) utimesSync(join(root, d), 1000, 1000);
  assert.equal(rendererIsStale(root), true, 'missing');
  file('dist/renderer/index.html', 2000);
  assert.equal(rendererIsStale(root), false, 'built after its sources');
  file('shared/contract.ts', 3000);
  assert.equal(rendererIsStale(root), true, 'a shared file changed');
  file('dist/renderer/index.html', 4000);
  file('renderer/src/chart/New.tsx', 5000);
  assert.equal(rendererIsStale(root), true, 'a renderer file was added');
  file('dist/renderer/index.html', 6000);
  file('build/vite.renderer.config.ts', 7000);
  assert.equal(rendererIsStale(root), true, 'the vite config changed');
});

test('npm run demo refuses --bundles outside the shipped fixtures without --synthetic-data (exit 2), before starting anything', async () => {
  const tmp = scratchDir('demo-tmp');
  try {
    copyFileSync(SYNTHEA_FILES[0]!, join(scratch.path, 'bundle.json'));
    const outside = join(scratch.path, 'elsewhere');
    const refused = [scratch.path, join(ROOT, 'test', 'fixtures', '..', '..', 'package.json')];
    const runs = await Promise.all([...refused, outside].map((path) => startDemo(['--bundles', path, '--no-build'], tmp.path).exited));
    assert.equal(runs[2]!.code, 64, 'a path that does not exist is a usage error');
    for (const run of runs.slice(0, 2)) {
      assert.equal(run.code, 2, `exit 2: ${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /refused: --bundles path 1 of 1 is not one of the shipped synthetic fixture folders/);
      assert.match(run.stderr, /synthetic patients only .*--synthetic-data/);
      assert.ok(!run.stderr.includes(scratch.path), 'the message names the path by position, not by name');
      assert.doesNotMatch(run.stdout, /keychain: service|backend:|temporary folder/, 'nothing was started');
    }
    assert.deepEqual(leftovers(tmp.path), []);
  } finally {
    tmp.remove();
  }
});

test('Ctrl+C while the demo is still starting (the backend on its way up) stops it and leaves nothing behind', async () => {
  const tmp = scratchDir('demo-tmp');
  try {
    const demo = startDemo(['--no-build', '--screens', join(scratch.path, 'screens-early')], tmp.path);
    await demo.printed('backend: starting');
    demo.signalGroup('SIGINT');
    const run = await demo.exited;
    assert.equal(run.code, 0, `exit 0: ${run.stdout}\n${run.stderr}`);
    assert.doesNotMatch(run.stdout, /ready/);
    await assertTornDown(run, tmp.path);
  } finally {
    tmp.remove();
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`npm run demo with --bundles --synthetic-data runs until ${signal} to its process group, then tears everything down`, async () => {
    const tmp = scratchDir('demo-tmp');
    const data = join(scratch.path, `declared-${signal}`);
    try {
      mkdirSync(data);
      copyFileSync(SYNTHEA_FILES[0]!, join(data, 'bundle.json'));
      const demo = startDemo(['--no-build', '--screens', join(scratch.path, `screens-${signal}`), '--bundles', data, '--synthetic-data'], tmp.path);
      await demo.printed('ready (headless). Press Ctrl+C to stop.');
      assert.match(demo.run.stdout, /declared synthetic \(--synthetic-data\)/);
      assert.match(demo.run.stdout, /\(sqlite, 1 synthetic patients/);
      // While it runs, the device's keys are in the environment's keychain under the demo's service.
      const service = printedValue(demo.run.stdout, /keychain: service (\S+)/);
      assert.ok((await keytar.findCredentials(service)).length > 0, 'the demo keeps its keys in the keychain it was given');
      demo.signalGroup(signal);
      const run = await demo.exited;
      assert.equal(run.code, 0, `exit 0 after ${signal}: ${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, new RegExp(`${signal}: stopping`));
      await assertTornDown(run, tmp.path);
    } finally {
      tmp.remove();
    }
  });
}
