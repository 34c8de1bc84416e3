/**
 * "Development build" is a constant compiled in at bundle time
 * (CLINICIAN_DEVELOPMENT_BUILD=1 or `--development-build`), never decided at
 * run time: renaming the packaged binary to "electron" (which flips
 * Electron's app.isPackaged) must not let CLINICIAN_* variables beat IT's
 * policy or open DevTools. The bundle is release-safe by default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { DEVELOPMENT_BUILD } from '../electron/build-flavour';
import { scratchDir } from './support/scratch';

const ROOT = join(import.meta.dirname, '..');

/** Bundles the Electron main process into a scratch folder and returns the value DEVELOPMENT_BUILD has in it. */
function bundledFlavour(env: Record<string, string>, args: string[] = []): { developmentBuild: unknown; main: string } {
  const out = scratchDir('bundle');
  try {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, CLINICIAN_ELECTRON_OUTDIR: out.path, ...env };
    if (!('CLINICIAN_DEVELOPMENT_BUILD' in env)) delete childEnv.CLINICIAN_DEVELOPMENT_BUILD;
    // The way npm start and npm run build call it.
    const run = spawnSync('npm', ['run', '-s', 'build:electron', ...(args.length ? ['--', ...args] : [])], { cwd: ROOT, env: childEnv, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const main = readFileSync(join(out.path, 'main.cjs'), 'utf8');
    const decl = [...main.matchAll(/^var DEVELOPMENT_BUILD\d* = (.+);$/gm)];
    assert.equal(decl.length, 1, 'one DEVELOPMENT_BUILD in main.cjs');
    // Evaluated alone: it must not depend on anything defined at run time.
    return { developmentBuild: runInNewContext(decl[0]![1]!, {}), main };
  } finally {
    out.remove();
  }
}

test('under tsx (tests, CLI) the build is not a development build', () => {
  assert.equal(DEVELOPMENT_BUILD, false);
});

test('a bundle is a release build by default and with any value but 1', () => {
  const plain = bundledFlavour({});
  assert.equal(plain.developmentBuild, false);
  // DevTools follow the compiled-in flavour, not app.isPackaged.
  assert.ok(/devTools: DEVELOPMENT_BUILD\d*\b/.test(plain.main), 'DevTools are opened by the compiled-in flavour');
  assert.ok(!/devTools: !\w+\.isPackaged/.test(plain.main), 'not by app.isPackaged');
  assert.equal(bundledFlavour({ CLINICIAN_DEVELOPMENT_BUILD: 'true' }).developmentBuild, false);
});

test('a bundle is a development build only with CLINICIAN_DEVELOPMENT_BUILD=1 or --development-build', () => {
  assert.equal(bundledFlavour({ CLINICIAN_DEVELOPMENT_BUILD: '1' }).developmentBuild, true);
  assert.equal(bundledFlavour({}, ['--development-build']).developmentBuild, true);
});

test('npm start bundles a development build; npm run build (what packaging runs) does not', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.start!, /npm run build:electron -- --development-build/);
  assert.doesNotMatch(pkg.scripts.build!, /development/);
  assert.doesNotMatch(pkg.scripts['build:electron']!, /development/);
});
