// The developer path's native modules for Electron (`npm start`).
//
// The root node_modules stays built for Node's ABI (npm install builds it so;
// npm test, the CLIs and the tools load it under Node). The app needs the same
// native modules built for Electron's ABI. This script copies each native
// runtime dependency (package.json "dependencies" with a binding.gyp) from the
// root node_modules, without its build/ folder, into dist/node_modules, and
// rebuilds only those copies with @electron/rebuild for the installed Electron
// version. dist/electron/main.cjs resolves dist/node_modules before the root
// node_modules (Node's lookup walks up from the bundle's folder), so the app
// loads the Electron builds and nothing else does. A stamp
// (dist/node_modules/.electron-native.json: Electron version, ABI, platform,
// arch, module versions) is written after a successful rebuild; the next start
// rebuilds only when it no longer matches.
//
// It must never touch the root node_modules (the rebuild is confined to
// dist/ by buildPath and projectRootPath), and never download anything in
// --print-plan / --dry-run mode (it prints the plan and exits).
//
// Usage: node build/native-modules/electron-native.mjs [--print-plan|--dry-run] [--root DIR]
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const STAMP_NAME = '.electron-native.json';

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The runtime dependencies of the project at `root` that are native (have a binding.gyp), with their installed versions. */
export function nativeRuntimeModules(root) {
  const deps = Object.keys(readJson(join(root, 'package.json')).dependencies ?? {}).sort();
  return deps
    .filter((name) => existsSync(join(root, 'node_modules', name, 'binding.gyp')))
    .map((name) => ({ name, version: readJson(join(root, 'node_modules', name, 'package.json')).version }));
}

/** Electron's version as installed in the root node_modules, and its ABI (node-abi's table, no download). */
export function electronTarget(root) {
  const electronVersion = readJson(join(root, 'node_modules', 'electron', 'package.json')).version;
  const require = createRequire(join(root, 'package.json'));
  const { getAbi } = require('node-abi');
  return { electronVersion, abi: getAbi(electronVersion, 'electron') };
}

/**
 * Everything the script would do, without doing it: the Electron target, the
 * folder the app resolves, each copy, and the exact options handed to
 * @electron/rebuild's rebuild().
 */
export function planElectronNative(root, { platform = process.platform, arch = process.arch } = {}) {
  root = resolve(root);
  const { electronVersion, abi } = electronTarget(root);
  const buildPath = join(root, 'dist');
  const targetDir = join(buildPath, 'node_modules');
  const modules = nativeRuntimeModules(root).map((m) => ({ ...m, from: join(root, 'node_modules', m.name), to: join(targetDir, m.name) }));
  const stamp = { electronVersion, abi, platform, arch, modules: Object.fromEntries(modules.map((m) => [m.name, m.version])) };
  return {
    root,
    electronVersion,
    abi,
    nodeAbi: process.versions.modules,
    platform,
    arch,
    targetDir,
    stampFile: join(targetDir, STAMP_NAME),
    stamp,
    modules,
    rebuild: {
      // buildPath and projectRootPath both dist/: @electron/rebuild looks for node_modules from buildPath up to
      // projectRootPath only, so it sees the copies and never the root node_modules.
      buildPath,
      projectRootPath: buildPath,
      electronVersion,
      platform,
      arch,
      onlyModules: modules.map((m) => m.name),
      types: ['prod'],
      force: true,
      mode: 'sequential',
    },
  };
}

/** Whether the Electron builds in dist/node_modules are those the plan asks for (stamp equal, every copy present). */
export function isUpToDate(plan) {
  if (!existsSync(plan.stampFile)) return false;
  let stamp;
  try {
    stamp = readJson(plan.stampFile);
  } catch {
    return false;
  }
  if (JSON.stringify(stamp) !== JSON.stringify(plan.stamp)) return false;
  return plan.modules.every((m) => existsSync(join(m.to, 'package.json')));
}

/**
 * Copies each native module into dist/node_modules without its build/ folder
 * (the Node-ABI binary and objects), and writes dist/package.json naming them
 * as dependencies (what @electron/rebuild walks). Drops the stamp first, so a
 * failed rebuild is never taken for a good one.
 */
export function stage(plan) {
  rmSync(plan.stampFile, { force: true });
  mkdirSync(plan.targetDir, { recursive: true });
  for (const m of plan.modules) {
    rmSync(m.to, { recursive: true, force: true });
    const topBuild = join(m.from, 'build');
    cpSync(m.from, m.to, { recursive: true, dereference: true, filter: (src) => src !== topBuild && !src.startsWith(topBuild + sep) });
  }
  const manifest = {
    name: 'clinician-desktop-electron-native',
    private: true,
    description: 'Generated by build/native-modules/electron-native.mjs: native modules rebuilt for Electron, for npm start only.',
    dependencies: plan.stamp.modules,
  };
  writeFileSync(join(plan.rebuild.buildPath, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

export function writeStamp(plan) {
  writeFileSync(plan.stampFile, `${JSON.stringify(plan.stamp, null, 2)}\n`);
}

/**
 * Stages and rebuilds when the stamp says so; returns what it did. `rebuild`
 * defaults to @electron/rebuild's (which downloads Electron's headers or
 * prebuilt binaries); the stamp is written only once it has succeeded.
 */
export async function ensureElectronNative(plan, { log = (line) => process.stderr.write(`${line}\n`), rebuild = undefined } = {}) {
  if (isUpToDate(plan)) {
    log(`native modules for Electron ${plan.electronVersion} (ABI ${plan.abi}) are up to date in ${relative(plan.root, plan.targetDir)}`);
    return 'up-to-date';
  }
  log(`building ${plan.modules.map((m) => m.name).join(', ')} for Electron ${plan.electronVersion} (ABI ${plan.abi}) into ${relative(plan.root, plan.targetDir)}; the root node_modules stays Node's (ABI ${plan.nodeAbi})`);
  stage(plan);
  if (!rebuild) {
    const require = createRequire(join(plan.root, 'package.json'));
    ({ rebuild } = await import(pathToFileURL(require.resolve('@electron/rebuild')).href));
  }
  await rebuild(plan.rebuild);
  writeStamp(plan);
  return 'rebuilt';
}

function parseArgs(argv) {
  const args = { printPlan: false, root: resolve(dirname(fileURLToPath(import.meta.url)), '..', '..') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--print-plan' || argv[i] === '--dry-run') args.printPlan = true;
    else if (argv[i] === '--root') args.root = resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  const plan = planElectronNative(args.root);
  if (args.printPlan) {
    const { root, ...rest } = plan;
    process.stdout.write(`${JSON.stringify({ root, upToDate: isUpToDate(plan), call: '@electron/rebuild rebuild(options)', ...rest }, null, 2)}\n`);
  } else {
    try {
      await ensureElectronNative(plan);
    } catch (err) {
      process.stderr.write(`Could not build the native modules for Electron ${plan.electronVersion}: ${err instanceof Error ? err.message : String(err)}\n` +
        'This needs the internet (Electron headers or prebuilt binaries) and a C++ toolchain; see README, "How it is built".\n');
      process.exit(1);
    }
  }
}
