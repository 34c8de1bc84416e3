/**
 * What IT gets: the electron-builder configuration validates, and a packaged
 * app (electron-builder --linux dir with a stand-in Electron folder, since
 * the real binary cannot be downloaded here) holds the bundled main process,
 * preload and renderer, the two native modules unpacked, and none of the
 * sources, tests or build tools.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listPackage } from '@electron/asar';
import { validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { DebugLogger } from 'builder-util';
import { scratchDir } from './support/scratch';
import { ROOT } from './support/cache-cli';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { build: Record<string, unknown>; dependencies: Record<string, string> };

test('the electron-builder configuration validates', async () => {
  await validateConfiguration(pkg.build as never, new DebugLogger(false));
  assert.equal(pkg.build.asar, true);
  const entitlements = readFileSync(join(ROOT, 'build', 'entitlements.mac.plist'), 'utf8');
  assert.match(entitlements, /<plist version="1.0">/);
});

test('the packaged app holds the bundles and native modules, and no sources, tests or dev tools', { timeout: 180_000 }, () => {
  const dir = scratchDir('package');
  try {
    const stub = join(dir.path, 'electron-stub');
    mkdirSync(stub);
    writeFileSync(join(stub, 'electron'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(stub, 'electron'), 0o755);
    execFileSync('npm', ['run', '-s', 'build:electron'], { cwd: ROOT, stdio: 'pipe' });
    const out = join(dir.path, 'out');
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'electron-builder'),
      ['--linux', 'dir', `-c.electronDist=${stub}`, '-c.npmRebuild=false', `-c.directories.output=${out}`],
      { cwd: ROOT, stdio: 'pipe', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } },
    );
    const resources = join(out, 'linux-unpacked', 'resources');
    const files = listPackage(join(resources, 'app.asar'), { isPack: false }).map((f) => f.replace(/\\/g, '/'));
    for (const required of ['/dist/electron/main.cjs', '/dist/electron/preload.cjs', '/dist/renderer/index.html', '/package.json']) {
      assert.ok(files.includes(required), required);
    }
    const own = files.filter((f) => !f.startsWith('/node_modules/'));
    assert.deepEqual(own.filter((f) => /\.(ts|tsx|map)$/.test(f) || /^\/(test|electron|renderer|shared|bench|build|\.ci)\//.test(f)), []);
    const modules = new Set(files.filter((f) => f.startsWith('/node_modules/')).map((f) => f.split('/')[2]));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(modules.has(dep), `runtime dependency ${dep} is packaged`);
    for (const dev of ['electron', 'react', 'zod', 'playwright-core', 'typescript', 'vite', 'esbuild', 'tsx', 'eslint']) {
      assert.ok(!modules.has(dev), `${dev} is bundled or a dev tool, not packaged`);
    }
    for (const native of ['better-sqlite3-multiple-ciphers/build/Release/better_sqlite3.node', 'keytar/build/Release/keytar.node']) {
      assert.ok(existsSync(join(resources, 'app.asar.unpacked', 'node_modules', native)), `${native} is unpacked`);
    }
  } finally {
    dir.remove();
  }
});
