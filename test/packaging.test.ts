/**
 * What IT gets. The electron-builder configuration (build/electron-builder.config.ts)
 * loads the way `--config` loads it and passes electron-builder's own schema
 * validation, with the values IT relies on; a package built from it
 * (`electron-builder --linux dir` with a stand-in Electron folder, since the
 * real binary cannot be downloaded here; built ONCE and shared) holds the
 * bundles and the three native modules unpacked, none of the sources, tests,
 * source maps, fixtures or dev dependencies, and an Electron binary whose
 * fuses were really flipped, and no native build leftovers (test extension,
 * C sources, object folders) in app.asar.unpacked; a release refuses to start
 * without its signing variables or in a pull-request build, bundles the
 * release flavour only, verifies each artifact's signature with the command
 * its platform has (decisions checked here; gpg run for real) and reaches its
 * output folder only whole. Installers other than `dir` (NSIS, MSI, DMG, AppImage,
 * deb, rpm), code signing and notarization need another OS, downloads or a
 * certificate: they are configured and validated here, not built.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listPackage, statFile } from '@electron/asar';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { FuseState } from '@electron/fuses/dist/constants';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import type { Configuration } from 'app-builder-lib';
import { DebugLogger } from 'builder-util';
import { parse as parsePlist } from 'plist';
import { electronBuilderConfig, MSI_UPGRADE_CODE, NATIVE_BUILD_LEFTOVERS } from '../build/electron-builder.config';
import { publishStaged, signLinuxPackages, updateManifests } from '../build/release-dist';
import {
  DEVELOPMENT_BUILD_VARIABLES,
  PULL_REQUEST_VARIABLES,
  pullRequestVariablesSet,
  releaseBuildEnv,
  releaseBundleProblem,
  verificationPlan,
  verifyReleaseArtifacts,
} from '../build/release-checks';
import { ELECTRON_45_DEFAULT_WIRE, makeStandInElectron } from './support/stand-in-electron';
import { scratchDir } from './support/scratch';
import { ROOT } from './support/cache-cli';

const CONFIG = 'build/electron-builder.config.ts';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  build?: unknown;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};
const NATIVE_MODULES = {
  'better-sqlite3-multiple-ciphers': 'build/Release/better_sqlite3.node',
  keytar: 'build/Release/keytar.node',
  '@vscode/policy-watcher': 'build/Release/vscode-policy-watcher.node',
};
const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

function targetNames(target: unknown): string[] {
  const list = Array.isArray(target) ? target : [target];
  return list.map((t) => (typeof t === 'string' ? t : (t as { target: string }).target));
}

describe('the electron-builder configuration', () => {
  test('lives in build/ (not package.json), loads through --config and passes electron-builder\'s validation', async () => {
    assert.equal(pkg.build, undefined, 'the "build" key left package.json');
    const config = await getConfig(ROOT, CONFIG, null);
    assert.equal(config.appId, 'org.clinician-desktop.app');
    assert.equal(config.productName, 'Clinician Desktop');
    assert.deepEqual(electronBuilderConfig({}).files, ['dist/electron/**', 'dist/renderer/**', 'package.json', '!**/*.map', ...NATIVE_BUILD_LEFTOVERS]);
    // A local package never rebuilds the root node_modules for Electron (that breaks `npm test`, which runs them under Node).
    assert.match(pkg.scripts['dist:dir'] ?? '', / -c\.npmRebuild=false\b/);
    assert.equal(config.asar, true);
    assert.deepEqual(config.asarUnpack, ['**/*.node']);
    await validateConfiguration(config, new DebugLogger(false));
  });

  test('Windows: NSIS and MSI both per-machine, a stable GUID upgrade code, signed updates checked by publisher', () => {
    const config = electronBuilderConfig({ CLINICIAN_WIN_PUBLISHER_NAME: 'Example Health Ltd' });
    assert.deepEqual(targetNames(config.win?.target), ['nsis', 'msi']);
    assert.equal(config.nsis?.perMachine, true);
    assert.equal(config.nsis?.oneClick, false);
    assert.equal(config.msi?.perMachine, true);
    assert.equal(config.msi?.upgradeCode, MSI_UPGRADE_CODE);
    assert.match(MSI_UPGRADE_CODE, GUID);
    assert.match((config.nsis?.guid ?? '').toUpperCase(), GUID);
    assert.equal(config.win?.verifyUpdateCodeSignature, true);
    assert.deepEqual(config.win?.signExts, ['.node', '.dll'], 'the unpacked native modules and Electron\'s own DLLs are signed too');
    assert.equal(config.win?.signtoolOptions?.publisherName, 'Example Health Ltd');
    // No certificate, password or key in the configuration itself.
    assert.doesNotMatch(readFileSync(join(ROOT, CONFIG), 'utf8'), /certificateFile|certificatePassword|BEGIN [A-Z ]*PRIVATE KEY/);
  });

  test('Windows with Azure Trusted Signing from the environment also validates', async () => {
    const config = electronBuilderConfig({
      AZURE_TRUSTED_SIGNING_ENDPOINT: 'https://weu.codesigning.azure.net',
      AZURE_TRUSTED_SIGNING_ACCOUNT: 'clinician',
      AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE: 'public-trust',
      CLINICIAN_WIN_PUBLISHER_NAME: 'Example Health Ltd',
    });
    await validateConfiguration(config, new DebugLogger(false));
    assert.equal(config.win?.azureSignOptions?.publisherName, 'Example Health Ltd');
    assert.equal(config.win?.signtoolOptions, undefined);
  });

  test('macOS: DMG and zip, hardened runtime, notarization on, separate helper entitlements', () => {
    const config = electronBuilderConfig({});
    assert.deepEqual(targetNames(config.mac?.target), ['dmg', 'zip']);
    assert.equal(config.mac?.hardenedRuntime, true);
    assert.equal(config.mac?.notarize, true);
    assert.equal(config.mac?.entitlements, 'build/entitlements.mac.plist');
    assert.equal(config.mac?.entitlementsInherit, 'build/entitlements.mac.inherit.plist');
    assert.ok(config.mac?.extendInfo?.NSCameraUsageDescription && config.mac.extendInfo.NSMicrophoneUsageDescription);
  });

  test('Linux: AppImage, deb and rpm in MedicalSoftware, with a maintainer and the keychain library for rpm', () => {
    const config: Configuration = electronBuilderConfig({});
    assert.deepEqual(targetNames(config.linux?.target), ['AppImage', 'deb', 'rpm']);
    assert.equal(config.linux?.category, 'MedicalSoftware');
    assert.match(config.linux?.maintainer ?? '', /<[^@>]+@[^>]+>/);
    assert.ok(config.rpm?.depends?.includes('libsecret'));
  });

  test('the entitlements hold the Touch ID keychain group, camera and microphone, and nothing broader', () => {
    const app = parsePlist(readFileSync(join(ROOT, 'build', 'entitlements.mac.plist'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(app['keychain-access-groups'], ['TEAMID.org.clinician-desktop.app.webauthn']);
    assert.deepEqual(Object.keys(app).sort(), ['com.apple.security.cs.allow-jit', 'com.apple.security.device.audio-input', 'com.apple.security.device.camera', 'keychain-access-groups']);
    const helpers = parsePlist(readFileSync(join(ROOT, 'build', 'entitlements.mac.inherit.plist'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(helpers).sort(), ['com.apple.security.cs.allow-jit', 'com.apple.security.device.audio-input', 'com.apple.security.device.camera']);
    for (const entitlements of [app, helpers]) {
      for (const broad of ['com.apple.security.cs.allow-unsigned-executable-memory', 'com.apple.security.cs.disable-library-validation', 'com.apple.security.cs.allow-dyld-environment-variables']) {
        assert.equal(entitlements[broad], undefined, broad);
      }
    }
  });

  test('the fuses are configured as the issue asks', () => {
    assert.deepEqual(electronBuilderConfig({}).electronFuses, {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });
});

describe('the packaged app (electron-builder --linux dir, stand-in Electron)', { timeout: 300_000 }, () => {
  const dir = scratchDir('package');
  let unpacked = '';
  let standIn = '';

  before(() => {
    standIn = makeStandInElectron(dir.path);
    execFileSync('npm', ['run', '-s', 'build:electron'], { cwd: ROOT, stdio: 'pipe' });
    const out = join(dir.path, 'out');
    const built = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'electron-builder'),
      ['--config', CONFIG, '--linux', 'dir', `-c.electronDist=${standIn}`, '-c.npmRebuild=false', `-c.directories.output=${out}`, '--publish', 'never'],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } },
    );
    assert.equal(built.status, 0, `electron-builder failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`);
    unpacked = join(out, 'linux-unpacked');
  });
  after(() => dir.remove());

  test('app.asar holds the bundles and runtime dependencies, and no tests, sources, source maps, fixtures or dev dependencies', () => {
    const asar = join(unpacked, 'resources', 'app.asar');
    const files = listPackage(asar, { isPack: false }).map((f) => f.replace(/\\/g, '/'));
    for (const required of ['/dist/electron/main.cjs', '/dist/electron/preload.cjs', '/dist/electron/keychain-helper.cjs', '/dist/electron/cache-store-worker.cjs', '/dist/electron/cache-checkpointer-worker.cjs', '/dist/renderer/index.html', '/package.json']) {
      assert.ok(files.includes(required), `${required} is packaged`);
    }
    const own = files.filter((f) => !f.startsWith('/node_modules/') && f !== '/node_modules' && f !== '/dist');
    assert.deepEqual(own.filter((f) => !/^\/(dist\/electron|dist\/renderer|package\.json)/.test(f)), [], 'nothing of our own but the bundles and package.json');
    assert.deepEqual(files.filter((f) => /\.(map|ts|tsx|mts|cts)$/.test(f) && !f.endsWith('.d.ts')), [], 'no sources or source maps');
    assert.deepEqual(files.filter((f) => /\/(test|tests|__tests__|fixtures|bench|\.ci)\//.test(f)), [], 'no tests, fixtures or benchmarks');
    const modules = new Set(files.filter((f) => f.startsWith('/node_modules/')).map((f) => f.split('/').slice(2, f.split('/')[2]?.startsWith('@') ? 4 : 3).join('/')));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(modules.has(dep), `runtime dependency ${dep} is packaged`);
    // A package only the dev tree needs is marked "dev" in the lockfile; none may be packaged (node-abi, say, is also prebuild-install's, keytar's runtime dependency).
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = new Set(Object.entries(lock.packages).filter(([path, entry]) => entry.dev && path.startsWith('node_modules/') && !path.slice(13).includes('/node_modules/')).map(([path]) => path.slice(13)));
    assert.ok(devOnly.has('electron') && devOnly.has('react') && devOnly.has('electron-updater'));
    assert.deepEqual([...modules].filter((m) => devOnly.has(m)), [], 'no dev-only dependency is packaged');
  });

  test('the three native modules are unpacked beside app.asar, and app.asar points there', () => {
    const asar = join(unpacked, 'resources', 'app.asar');
    assert.deepEqual(Object.keys(NATIVE_MODULES).sort(), Object.keys(pkg.dependencies).sort(), 'every runtime dependency is a native module checked here');
    for (const [name, binary] of Object.entries(NATIVE_MODULES)) {
      const path = `node_modules/${name}/${binary}`;
      assert.ok(existsSync(join(unpacked, 'resources', 'app.asar.unpacked', path)), `${path} is unpacked`);
      assert.equal((statFile(asar, path) as { unpacked?: boolean }).unpacked, true, `${path} is marked unpacked in app.asar`);
    }
  });

  test('app.asar.unpacked holds only the native modules\' .node files and JS: no test extension, C sources, object folders or build leftovers', () => {
    const root = join(unpacked, 'resources', 'app.asar.unpacked');
    const all: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        all.push(relative(root, path).replace(/\\/g, '/') + (entry.isDirectory() ? '/' : ''));
        if (entry.isDirectory()) walk(path);
      }
    };
    walk(root);
    assert.ok(all.length > 0, 'the unpacked folder was listed');
    assert.deepEqual(all.filter((f) => /test_extension/.test(f)), [], 'no SQLite test extension');
    assert.deepEqual(all.filter((f) => /\.(c|cc|cpp|cxx|h|hh|hpp)$/.test(f)), [], 'no C/C++ sources or headers');
    assert.deepEqual(all.filter((f) => /\/(obj|obj\.target|\.deps)\/$/.test(f)), [], 'no object folders');
    assert.deepEqual(all.filter((f) => /\.(o|a|mk|gyp|gypi)$|\/Makefile$/.test(f)), [], 'no object files, archives or build files');
    const nodes = all.filter((f) => f.endsWith('.node')).sort();
    assert.deepEqual(nodes, Object.entries(NATIVE_MODULES).map(([name, binary]) => `node_modules/${name}/${binary}`).sort(), 'exactly the three .node files the modules load');
  });

  test('the packaged Electron binary has its fuses flipped (the stand-in started from Electron 45\'s defaults)', async () => {
    const before = await getCurrentFuseWire(join(standIn, 'electron'));
    const wire = await getCurrentFuseWire(join(unpacked, 'clinician-desktop'));
    const state = (w: Record<number, unknown>, i: number) => w[i] as FuseState;
    assert.equal(Object.keys(before).filter((k) => /^\d+$/.test(k)).map((k) => String.fromCharCode(state(before, Number(k)))).join(''), ELECTRON_45_DEFAULT_WIRE);
    const expected: [FuseV1Options, FuseState][] = [
      [FuseV1Options.RunAsNode, FuseState.DISABLE],
      [FuseV1Options.EnableCookieEncryption, FuseState.ENABLE],
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable, FuseState.DISABLE],
      [FuseV1Options.EnableNodeCliInspectArguments, FuseState.DISABLE],
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation, FuseState.ENABLE],
      [FuseV1Options.OnlyLoadAppFromAsar, FuseState.ENABLE],
      [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot, FuseState.DISABLE],
      [FuseV1Options.GrantFileProtocolExtraPrivileges, FuseState.DISABLE],
    ];
    for (const [fuse, want] of expected) assert.equal(state(wire, fuse), want, `${FuseV1Options[fuse]} is ${want === FuseState.ENABLE ? 'on' : 'off'}`);
    // Index 8 (WasmTrapHandlers) is not ours to change: still Electron's default.
    assert.equal(state(wire, 8), FuseState.ENABLE);
  });
});

describe('release builds refuse to be unsigned', () => {
  const SIGNING_VARIABLES = /^(CSC_|WIN_CSC_|APPLE_|AZURE_|CLINICIAN_(WIN|MAC|LINUX|UPDATE)_|TRAVIS_PULL_REQUEST$|CIRCLE_PULL_REQUEST$|BITRISE_PULL_REQUEST$|APPVEYOR_PULL_REQUEST_NUMBER$|GITHUB_BASE_REF$)/;
  const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !SIGNING_VARIABLES.test(k))),
    ...extra,
  });
  const release = (args: string[], env: NodeJS.ProcessEnv) => {
    const dir = scratchDir('release');
    const output = join(dir.path, 'installers');
    try {
      const result = spawnSync('npm', ['run', '-s', 'dist:release', '--', ...args, '--output', output], { cwd: ROOT, env, encoding: 'utf8' });
      return { status: result.status, stderr: result.stderr, outputCreated: existsSync(output) };
    } finally {
      dir.remove();
    }
  };

  test('a Windows release without a certificate names the missing variables and builds nothing', () => {
    const result = release(['--win'], cleanEnv());
    assert.equal(result.status, 1);
    for (const name of ['CSC_LINK', 'WIN_CSC_LINK', 'CSC_KEY_PASSWORD', 'AZURE_TRUSTED_SIGNING_ENDPOINT', 'CLINICIAN_WIN_PUBLISHER_NAME', 'CLINICIAN_UPDATE_SIGNING_KEY_FILE', 'CLINICIAN_UPDATE_PUBLIC_KEY']) {
      assert.match(result.stderr, new RegExp(`\\b${name}\\b`), `names ${name}`);
    }
    assert.equal(result.outputCreated, false);
  });

  test('a macOS release without a Developer ID, notarization credentials or provisioning profile is refused', () => {
    const result = release(['--mac'], cleanEnv());
    assert.equal(result.status, 1);
    for (const name of ['CSC_LINK', 'CSC_NAME', 'APPLE_API_KEY', 'APPLE_ID', 'APPLE_TEAM_ID', 'CLINICIAN_MAC_PROVISIONING_PROFILE', 'CLINICIAN_UPDATE_SIGNING_KEY_FILE']) {
      assert.match(result.stderr, new RegExp(`\\b${name}\\b`), `names ${name}`);
    }
    assert.equal(result.outputCreated, false);
  });

  test('a Linux release without the package GPG key and the update signing key is refused', () => {
    const result = release(['--linux'], cleanEnv());
    assert.equal(result.status, 1);
    for (const name of ['CLINICIAN_LINUX_GPG_KEY_ID', 'CLINICIAN_UPDATE_SIGNING_KEY_FILE', 'CLINICIAN_UPDATE_PUBLIC_KEY']) {
      assert.match(result.stderr, new RegExp(`\\b${name}\\b`), `names ${name}`);
    }
    assert.equal(result.outputCreated, false);
  });

  test('only what is still missing is named, a key file inside the repository is refused, and no value is printed', () => {
    const secret = 'not-a-real-password-7d1c';
    const result = release(['--win'], cleanEnv({
      CSC_LINK: '/nonexistent/cert.p12',
      CSC_KEY_PASSWORD: secret,
      CLINICIAN_WIN_PUBLISHER_NAME: 'Example Health Ltd',
      CLINICIAN_UPDATE_SIGNING_KEY_FILE: join(ROOT, 'package.json'),
      CLINICIAN_UPDATE_PUBLIC_KEY: Buffer.alloc(32, 7).toString('base64'),
    }));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /CLINICIAN_UPDATE_SIGNING_KEY_FILE \(names a file inside the repository/);
    assert.doesNotMatch(result.stderr, /CLINICIAN_WIN_PUBLISHER_NAME|CSC_KEY_PASSWORD|CLINICIAN_UPDATE_PUBLIC_KEY|AZURE_/);
    assert.ok(!result.stderr.includes(secret) && !result.stderr.includes('Example Health'), 'no value is printed');
    assert.equal(result.outputCreated, false);
  });

  test('an update public key that is not a raw Ed25519 key is refused before anything is built', () => {
    const result = release(['--linux'], cleanEnv({ CLINICIAN_LINUX_GPG_KEY_ID: 'release@example.invalid', CLINICIAN_UPDATE_PUBLIC_KEY: 'MCowBQYDK2VwAyEA' }));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /CLINICIAN_UPDATE_PUBLIC_KEY \(is not base64 of a raw 32-byte Ed25519 public key\)/);
    assert.doesNotMatch(result.stderr, /CLINICIAN_LINUX_GPG_KEY_ID|MCowBQYDK2VwAyEA/);
    assert.equal(result.outputCreated, false);
  });

  test('a release in a pull-request build is refused, naming the variable and building nothing (electron-builder would skip macOS signing)', () => {
    for (const [name, value] of [['GITHUB_BASE_REF', 'main'], ['CIRCLE_PULL_REQUEST', 'https://example.invalid/pull/7']] as const) {
      const result = release(['--mac'], cleanEnv({ [name]: value }));
      assert.equal(result.status, 1, name);
      assert.match(result.stderr, new RegExp(`pull-request build: ${name} is set`));
      assert.ok(!result.stderr.includes(value), 'the value is not printed');
      assert.equal(result.outputCreated, false);
    }
  });

  test('the refused pull-request variables are exactly those app-builder-lib\'s isPullRequest reads, set unless empty or "false"', () => {
    const source = readFileSync(join(ROOT, 'node_modules', 'builder-util', 'out', 'util.js'), 'utf8');
    const body = /function isPullRequest\(\) \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const read = [...body.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]);
    assert.deepEqual([...PULL_REQUEST_VARIABLES].sort(), [...new Set(read)].sort());
    for (const name of PULL_REQUEST_VARIABLES) {
      assert.deepEqual(pullRequestVariablesSet({ [name]: '12' }), [name]);
      assert.deepEqual(pullRequestVariablesSet({ [name]: 'false' }), []);
      assert.deepEqual(pullRequestVariablesSet({ [name]: '' }), []);
    }
    assert.deepEqual(pullRequestVariablesSet({ TRAVIS_PULL_REQUEST: '3', GITHUB_BASE_REF: 'main', PATH: '/bin' }), ['TRAVIS_PULL_REQUEST', 'GITHUB_BASE_REF']);
  });

  test('the release bundles are built without the development switches, and a development main.cjs is refused', () => {
    const env = releaseBuildEnv({ PATH: '/usr/bin', CLINICIAN_DEVELOPMENT_BUILD: '1', CLINICIAN_ELECTRON_OUTDIR: '/tmp/old', CLINICIAN_UPDATE_PUBLIC_KEY: 'k' });
    assert.deepEqual(env, { PATH: '/usr/bin', CLINICIAN_UPDATE_PUBLIC_KEY: 'k' });
    assert.deepEqual([...DEVELOPMENT_BUILD_VARIABLES], ['CLINICIAN_DEVELOPMENT_BUILD', 'CLINICIAN_ELECTRON_OUTDIR']);
    const dir = scratchDir('flavour');
    try {
      const bundle = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
        execFileSync('npm', ['run', '-s', 'build:electron', '--', ...args], { cwd: ROOT, stdio: 'pipe', env: { ...process.env, ...extra, CLINICIAN_ELECTRON_OUTDIR: join(dir.path, name) } });
        return join(dir.path, name, 'main.cjs');
      };
      assert.match(releaseBundleProblem(bundle('dev', ['--development-build'])) ?? '', /development build/);
      assert.match(releaseBundleProblem(bundle('dev-env', [], { CLINICIAN_DEVELOPMENT_BUILD: '1' })) ?? '', /development build/);
      // What the release script does: the inherited CLINICIAN_DEVELOPMENT_BUILD=1 is removed before bundling.
      const released = join(dir.path, 'release', 'main.cjs');
      execFileSync('npm', ['run', '-s', 'build:electron'], { cwd: ROOT, stdio: 'pipe', env: { ...releaseBuildEnv({ ...process.env, CLINICIAN_DEVELOPMENT_BUILD: '1' }), CLINICIAN_ELECTRON_OUTDIR: join(dir.path, 'release') } });
      assert.equal(releaseBundleProblem(released), null);
      assert.match(releaseBundleProblem(join(dir.path, 'absent', 'main.cjs')) ?? '', /does not exist/);
    } finally {
      dir.remove();
    }
  });

  test('which command verifies which artifact, per platform and host', () => {
    const app = '/out/mac-arm64/Clinician Desktop.app';
    const mac = verificationPlan('mac', 'darwin', [app]);
    assert.equal(mac.refusal, null);
    assert.deepEqual(mac.verifications.map((v) => [v.artifact, v.command, ...v.args]), [
      [app, 'codesign', '--verify', '--deep', '--strict', '--verbose=2', app],
      [app, 'spctl', '-a', '-t', 'exec', '-vv', app],
      [app, 'xcrun', 'stapler', 'validate', app],
    ]);
    assert.match(verificationPlan('mac', 'linux', [app]).refusal ?? '', /only .* on macOS/, 'a macOS app built elsewhere cannot have been signed');
    assert.match(verificationPlan('mac', 'darwin', []).refusal ?? '', /no mac artifact/);
    const win = verificationPlan('win', 'win32', ['/out/a-setup.exe', '/out/a.msi']);
    assert.deepEqual(win.verifications.map((v) => [v.command, ...v.args]), [['signtool', 'verify', '/pa', '/out/a-setup.exe'], ['signtool', 'verify', '/pa', '/out/a.msi']]);
    const winElsewhere = verificationPlan('win', 'linux', ['/out/a-setup.exe']);
    assert.deepEqual(winElsewhere.verifications, []);
    assert.match(winElsewhere.skipped ?? '', /signtool verify \/pa/);
    const linux = verificationPlan('linux', 'linux', ['/out/a.deb']);
    assert.deepEqual(linux.verifications.map((v) => [v.command, ...v.args]), [['gpg', '--batch', '--verify', '/out/a.deb.asc', '/out/a.deb']]);
    assert.match(verificationPlan('linux', 'linux', []).refusal ?? '', /no linux artifact/);
  });

  test('a release is built in a fresh staging folder and reaches the output folder only whole, replacing same-named files', () => {
    const dir = scratchDir('staging');
    try {
      const staging = join(dir.path, '.release-staging-x');
      const output = join(dir.path, 'installers');
      mkdirSync(staging);
      mkdirSync(output);
      writeFileSync(join(output, 'clinician-desktop_0.0.9_amd64.deb'), 'an old package');
      writeFileSync(join(output, 'latest-linux.yml'), 'version: 0.0.9\n');
      writeFileSync(join(staging, 'clinician-desktop_0.1.0_amd64.deb'), 'a package');
      writeFileSync(join(staging, 'clinician-desktop_0.1.0_amd64.deb.asc'), 'its signature');
      writeFileSync(join(staging, 'latest-linux.yml'), 'version: 0.1.0\n');
      // Only this run's packages are in the folder that is signed and verified.
      assert.deepEqual(readdirSync(staging).filter((n) => n.endsWith('.deb')), ['clinician-desktop_0.1.0_amd64.deb']);
      assert.deepEqual(publishStaged(staging, output).sort(), ['clinician-desktop_0.1.0_amd64.deb', 'clinician-desktop_0.1.0_amd64.deb.asc', 'latest-linux.yml']);
      assert.equal(existsSync(staging), false);
      assert.equal(readFileSync(join(output, 'latest-linux.yml'), 'utf8'), 'version: 0.1.0\n');
      assert.deepEqual(readdirSync(output).sort(), ['clinician-desktop_0.0.9_amd64.deb', 'clinician-desktop_0.1.0_amd64.deb', 'clinician-desktop_0.1.0_amd64.deb.asc', 'latest-linux.yml']);
    } finally {
      dir.remove();
    }
  });

  test('a release without a platform is a usage error', () => {
    const result = release([], cleanEnv());
    assert.equal(result.status, 64);
    assert.equal(result.outputCreated, false);
  });

  test('Linux packages get a detached GPG signature that gpg verifies (throwaway key)', () => {
    const dir = scratchDir('gpg');
    const env = { ...process.env, GNUPGHOME: join(dir.path, 'gnupg') };
    try {
      mkdirSync(env.GNUPGHOME, { mode: 0o700 });
      execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Release Test <release-test@example.invalid>', 'ed25519', 'sign', 'never'], { env, stdio: 'pipe' });
      const out = join(dir.path, 'out');
      mkdirSync(out);
      writeFileSync(join(out, 'clinician-desktop_0.1.0_amd64.deb'), 'a package');
      writeFileSync(join(out, 'clinician-desktop-0.1.0.x86_64.rpm'), 'another package');
      writeFileSync(join(out, 'latest-linux.yml'), 'version: 0.1.0\n');
      const signed = signLinuxPackages(out, 'release-test@example.invalid', env);
      assert.deepEqual(signed.sort(), ['clinician-desktop-0.1.0.x86_64.rpm', 'clinician-desktop_0.1.0_amd64.deb']);
      for (const name of signed) execFileSync('gpg', ['--batch', '--verify', join(out, `${name}.asc`), join(out, name)], { env, stdio: 'pipe' });
      writeFileSync(join(out, 'clinician-desktop_0.1.0_amd64.deb'), 'a tampered package');
      const tampered = spawnSync('gpg', ['--batch', '--verify', join(out, 'clinician-desktop_0.1.0_amd64.deb.asc'), join(out, 'clinician-desktop_0.1.0_amd64.deb')], { env });
      assert.notEqual(tampered.status, 0, 'a changed package fails verification');
      assert.deepEqual(updateManifests(out), [join(out, 'latest-linux.yml')]);
      // The release script's post-build check: gpg --verify of each package's .asc refuses the tampered one, and a package without one.
      assert.throws(() => verifyReleaseArtifacts('linux', out, env), /clinician-desktop_0\.1\.0_amd64\.deb failed verification \(gpg --batch exited/);
      writeFileSync(join(out, 'clinician-desktop_0.1.0_amd64.deb'), 'a package');
      assert.deepEqual(verifyReleaseArtifacts('linux', out, env).verified.sort(), signed.map((n) => join(out, n)).sort());
      rmSync(join(out, 'clinician-desktop-0.1.0.x86_64.rpm.asc'));
      assert.throws(() => verifyReleaseArtifacts('linux', out, env), /x86_64\.rpm failed verification/);
    } finally {
      spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env });
      dir.remove();
    }
  });
});
