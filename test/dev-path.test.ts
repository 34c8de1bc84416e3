/**
 * The developer path (`npm install && npm start`): the root node_modules
 * stays built for Node (npm test loads it), and `npm start` builds Electron-ABI
 * copies of the native runtime modules into dist/node_modules, which only the
 * app's bundle resolves. The Electron rebuild itself needs Electron's headers
 * from the internet and cannot run here; everything around it does: the
 * scripts' order, the ABI each build targets, the printed plan, the copies,
 * the stamp, where @electron/rebuild would look, and which copy each side
 * resolves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureElectronNative, isUpToDate, nativeRuntimeModules, planElectronNative, stage, writeStamp, type ElectronNativePlan } from '../build/native-modules/electron-native.mjs';
import { scratchDir } from './support/scratch';

const ROOT = join(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'build', 'native-modules', 'electron-native.mjs');
const rootRequire = createRequire(join(ROOT, 'package.json'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
const installedElectron = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version;
const { getAbi } = rootRequire('node-abi') as { getAbi(version: string, runtime: string): string };

type Plan = ElectronNativePlan;

test('npm start builds, then the native modules for Electron, then runs electron; npm test does not touch them', () => {
  const steps = pkg.scripts.start!.split('&&').map((s) => s.trim());
  // The Electron bundle of npm start is a development build (compiled in: electron/build-flavour.ts); npm run build and packaging bundle release builds.
  assert.deepEqual(steps, ['npm run build:renderer', 'npm run build:electron -- --development-build', 'npm run -s native:electron', 'electron .']);
  assert.equal(pkg.scripts['native:electron'], 'node build/native-modules/electron-native.mjs');
  assert.equal(pkg.scripts['native:plan'], 'node build/native-modules/electron-native.mjs --print-plan');
  assert.ok(existsSync(SCRIPT));
  assert.doesNotMatch(pkg.scripts.test!, /native|rebuild|electron/, 'npm test runs on the root node_modules as npm install built them');
  assert.equal(pkg.scripts.postinstall, undefined, 'npm install leaves the root node_modules built for Node');
});

test('the plan targets Electron\'s ABI (node-abi for the installed electron) for dist/node_modules; the root modules are Node\'s and load under Node', () => {
  const printed = spawnSync(process.execPath, [SCRIPT, '--print-plan'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(printed.status, 0, printed.stderr);
  const plan = JSON.parse(printed.stdout) as Plan & { upToDate: boolean; call: string };
  assert.equal(plan.electronVersion, installedElectron);
  assert.equal(plan.abi, getAbi(installedElectron, 'electron'));
  assert.equal(plan.abi, '150', 'Electron 45');
  assert.equal(plan.nodeAbi, process.versions.modules);
  assert.notEqual(plan.abi, plan.nodeAbi, 'two builds are needed');
  assert.equal(plan.targetDir, join(ROOT, 'dist', 'node_modules'));
  assert.equal(plan.call, '@electron/rebuild rebuild(options)');
  assert.deepEqual(plan.modules.map((m) => m.name), Object.keys(pkg.dependencies).sort(), 'every runtime dependency is native and rebuilt');
  for (const m of plan.modules) {
    assert.equal(m.from, join(ROOT, 'node_modules', m.name));
    assert.equal(m.to, join(ROOT, 'dist', 'node_modules', m.name));
  }
  assert.deepEqual(plan.rebuild, {
    buildPath: join(ROOT, 'dist'),
    projectRootPath: join(ROOT, 'dist'),
    electronVersion: installedElectron,
    platform: process.platform,
    arch: process.arch,
    onlyModules: Object.keys(pkg.dependencies).sort(),
    types: ['prod'],
    force: true,
    mode: 'sequential',
  });
  // The same modules load under Node from the root node_modules: they are built for process.versions.modules.
  const Database = rootRequire('better-sqlite3-multiple-ciphers') as new (file: string) => { prepare(sql: string): { get(): unknown }; close(): void };
  const db = new Database(':memory:');
  assert.deepEqual(db.prepare('select 1 as one').get(), { one: 1 });
  db.close();
  assert.equal(typeof (rootRequire('keytar') as { getPassword: unknown }).getPassword, 'function');
  assert.equal(typeof (rootRequire('@vscode/policy-watcher') as { createWatcher: unknown }).createWatcher, 'function');
});

test('--print-plan and --dry-run change nothing on disk', () => {
  const target = join(ROOT, 'dist', 'node_modules');
  const before = existsSync(target) ? readdirSync(target).sort() : null;
  const rootBinaries = nativeBinaries(join(ROOT, 'node_modules', 'better-sqlite3-multiple-ciphers'));
  for (const flag of ['--print-plan', '--dry-run']) {
    const run = spawnSync(process.execPath, [SCRIPT, flag], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  }
  assert.deepEqual(existsSync(target) ? readdirSync(target).sort() : null, before);
  assert.deepEqual(nativeBinaries(join(ROOT, 'node_modules', 'better-sqlite3-multiple-ciphers')), rootBinaries);
});

/** Every .node file under a folder, with its size and mtime. */
function nativeBinaries(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.node')) out.push(`${p}:${statSync(p).size}:${statSync(p).mtimeMs}`);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/**
 * A small project on disk shaped like this one: a native runtime dependency
 * (binding.gyp, a Node-ABI build/ folder), a pure-JS one, electron's
 * package.json and the real node-abi.
 */
function fixtureProject(): { root: string; remove(): void } {
  const dir = scratchDir('dev-path');
  const root = dir.path;
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('package.json', JSON.stringify({ name: 'fixture', dependencies: { 'alpha-native': '^1.0.0', 'pure-js': '^1.0.0' }, devDependencies: { electron: installedElectron } }));
  write('package-lock.json', '{}');
  write('node_modules/alpha-native/package.json', JSON.stringify({ name: 'alpha-native', version: '1.2.3', main: 'index.js' }));
  write('node_modules/alpha-native/binding.gyp', '{"targets":[{"target_name":"alpha","sources":["alpha.cc"]}]}');
  write('node_modules/alpha-native/index.js', 'module.exports = "alpha";');
  write('node_modules/alpha-native/build/Release/alpha.node', 'node-abi-115-binary');
  write('node_modules/alpha-native/build/Release/obj.target/alpha.o', 'object');
  write('node_modules/alpha-native/lib/build/keep.js', 'module.exports = "a nested build folder is source";');
  write('node_modules/pure-js/package.json', JSON.stringify({ name: 'pure-js', version: '1.0.0' }));
  write('node_modules/electron/package.json', JSON.stringify({ name: 'electron', version: installedElectron }));
  symlinkSync(join(ROOT, 'node_modules', 'node-abi'), join(root, 'node_modules', 'node-abi'));
  return { root, remove: dir.remove };
}

test('the copies leave out the Node build, keep the sources, and the root module is not touched', () => {
  const fx = fixtureProject();
  try {
    const plan = planElectronNative(fx.root);
    assert.deepEqual(plan.modules.map((m) => m.name), ['alpha-native'], 'only native runtime dependencies');
    assert.deepEqual(nativeRuntimeModules(fx.root), [{ name: 'alpha-native', version: '1.2.3' }], 'pure-js has no binding.gyp');
    const rootBinary = readFileSync(join(fx.root, 'node_modules/alpha-native/build/Release/alpha.node'), 'utf8');
    stage(plan);
    const copy = join(fx.root, 'dist/node_modules/alpha-native');
    assert.ok(existsSync(join(copy, 'binding.gyp')));
    assert.ok(existsSync(join(copy, 'index.js')));
    assert.ok(existsSync(join(copy, 'lib/build/keep.js')), 'only the top-level build/ is left out');
    assert.ok(!existsSync(join(copy, 'build')), 'no Node-ABI binary in the Electron copy');
    assert.equal(readFileSync(join(fx.root, 'node_modules/alpha-native/build/Release/alpha.node'), 'utf8'), rootBinary);
    const manifest = JSON.parse(readFileSync(join(fx.root, 'dist/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(manifest.dependencies, { 'alpha-native': '1.2.3' });
  } finally {
    fx.remove();
  }
});

test('@electron/rebuild, given the plan\'s options, would rebuild the copies in dist/ and never the root node_modules', async () => {
  const fx = fixtureProject();
  try {
    const plan = planElectronNative(fx.root);
    stage(plan);
    type Walker = { modulesToRebuild(): Promise<string[]> };
    const rebuildLib = pathToFileURL(join(ROOT, 'node_modules/@electron/rebuild/lib/rebuild.js')).href;
    const { Rebuilder } = (await import(rebuildLib)) as { Rebuilder: new (o: object) => Walker };
    const confined = await new Rebuilder({ ...plan.rebuild, lifecycle: new EventEmitter() }).modulesToRebuild();
    assert.deepEqual(confined, [join(fx.root, 'dist/node_modules/alpha-native')]);
    // The check means something: with the project root as projectRootPath (the CLI's default), the root module is taken too.
    const unconfined = await new Rebuilder({ ...plan.rebuild, projectRootPath: fx.root, lifecycle: new EventEmitter() }).modulesToRebuild();
    assert.ok(unconfined.includes(join(fx.root, 'node_modules/alpha-native')));
  } finally {
    fx.remove();
  }
});

test('the app\'s bundle resolves the Electron copy; everything else (tests, tools) resolves the root Node build', () => {
  const fx = fixtureProject();
  try {
    stage(planElectronNative(fx.root));
    const fromApp = createRequire(join(fx.root, 'dist/electron/main.cjs')).resolve('alpha-native');
    assert.equal(fromApp, join(fx.root, 'dist/node_modules/alpha-native/index.js'));
    const fromHelper = createRequire(join(fx.root, 'dist/electron/keychain-helper.cjs')).resolve('alpha-native');
    assert.equal(fromHelper, fromApp);
    const fromTests = createRequire(join(fx.root, 'test/some.test.ts')).resolve('alpha-native');
    assert.equal(fromTests, join(fx.root, 'node_modules/alpha-native/index.js'));
  } finally {
    fx.remove();
  }
});

test('the stamp: rebuild when missing, after a failed rebuild, or when Electron, a module version, the arch or a copy changed; not otherwise', async () => {
  const fx = fixtureProject();
  try {
    const plan = planElectronNative(fx.root);
    const calls: object[] = [];
    const working = async (options: object): Promise<void> => {
      calls.push(options);
    };
    const quiet = () => undefined;
    assert.equal(isUpToDate(plan), false, 'nothing built yet');
    // A failed rebuild (no internet) leaves no stamp: the next start tries again.
    await assert.rejects(ensureElectronNative(plan, { log: quiet, rebuild: () => Promise.reject(new Error('no headers')) }), /no headers/);
    assert.equal(isUpToDate(plan), false);
    assert.equal(await ensureElectronNative(plan, { log: quiet, rebuild: working }), 'rebuilt');
    assert.deepEqual(calls, [plan.rebuild], 'the rebuild gets exactly the planned options');
    assert.equal(isUpToDate(plan), true);
    assert.equal(await ensureElectronNative(plan, { log: quiet, rebuild: working }), 'up-to-date');
    assert.equal(calls.length, 1, 'no second rebuild while the stamp matches');

    const otherArch = planElectronNative(fx.root, { arch: plan.arch === 'arm64' ? 'x64' : 'arm64' });
    assert.equal(isUpToDate(otherArch), false, 'another arch');

    writeFileSync(join(fx.root, 'node_modules/electron/package.json'), JSON.stringify({ name: 'electron', version: '44.0.0' }));
    const olderElectron = planElectronNative(fx.root);
    assert.equal(olderElectron.abi, getAbi('44.0.0', 'electron'));
    assert.equal(isUpToDate(olderElectron), false, 'another Electron');
    writeFileSync(join(fx.root, 'node_modules/electron/package.json'), JSON.stringify({ name: 'electron', version: installedElectron }));

    writeFileSync(join(fx.root, 'node_modules/alpha-native/package.json'), JSON.stringify({ name: 'alpha-native', version: '1.2.4' }));
    assert.equal(isUpToDate(planElectronNative(fx.root)), false, 'npm install updated a module');
    writeFileSync(join(fx.root, 'node_modules/alpha-native/package.json'), JSON.stringify({ name: 'alpha-native', version: '1.2.3' }));
    assert.equal(isUpToDate(planElectronNative(fx.root)), true);

    writeFileSync(plan.stampFile, '{ not json');
    assert.equal(isUpToDate(plan), false, 'a garbled stamp');
    writeStamp(plan);
    assert.equal(isUpToDate(plan), true);
    rmSync(join(fx.root, 'dist/node_modules/alpha-native'), { recursive: true });
    assert.equal(isUpToDate(plan), false, 'a copy was deleted');
  } finally {
    fx.remove();
  }
});

test('the packaged app takes none of the developer path\'s Electron copies (electron-builder rebuilds its own at package time)', async () => {
  const { electronBuilderConfig } = await import('../build/electron-builder.config');
  const config = electronBuilderConfig({});
  const files = (Array.isArray(config.files) ? config.files : [config.files]).filter((f): f is string => typeof f === 'string');
  assert.ok(files.length > 0);
  for (const pattern of files) {
    assert.ok(!pattern.startsWith('dist/**') && !pattern.startsWith('dist/node_modules') && pattern !== 'dist/package.json', `${pattern} would pack the dev copies`);
  }
  assert.equal(config.npmRebuild, true, 'the release machine rebuilds for Electron when packaging');
});
