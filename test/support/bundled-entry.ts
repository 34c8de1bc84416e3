/**
 * Bundles of the entry points the tests start as child processes. First
 * the backend's (server/main.ts), which the tests start hundreds of times (every backend start and every admin
 * command), bundled once per test process with esbuild, the transformer tsx
 * itself uses: each start then loads one file instead of resolving and
 * transforming the module graph again under tsx's loader (about 3.5 s under
 * tsx on the loaded 2-core CI machine, about 1 s bundled). Packages stay
 * external and load from node_modules as under tsx; only the project's own
 * source is joined. The bundle lives in node_modules/.cache (beside the
 * packages it imports, outside the repo) and is removed when the test
 * process exits. Test support only: it must never change what the entry
 * does, only how fast it starts, so it refuses an entry whose code reads
 * import.meta (a bundle would answer with its own folder, not the source's).
 * Then the test children that run the app's main-process services
 * (appChildArgs), bundled as the app's main is.
 */
import { buildSync, type BuildOptions } from 'esbuild';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { ROOT } from './cache-cli';

const built = new Map<string, string>();

/**
 * Builds `entry` (an absolute .ts path under the repo) once per test process
 * and kind of bundle (`kind`), into `dir`, with esbuild's `options` on top of
 * the common ones; `check` may refuse the bundle. Every bundle built is
 * removed when the process exits.
 */
function buildOnce(kind: string, entry: string, dir: string, options: BuildOptions, check?: (outfile: string) => void): string {
  const key = `${kind}:${entry}`;
  const done = built.get(key);
  if (done) return done;
  if (relative(ROOT, entry).startsWith('..') || !entry.endsWith('.ts')) throw new Error(`${kind} is for the repo's own .ts entry points`);
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `${basename(entry, '.ts')}-${process.pid}-${built.size}.mjs`);
  buildSync({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning', ...options });
  check?.(outfile);
  if (built.size === 0) process.once('exit', () => built.forEach((file) => rmSync(file, { force: true })));
  built.set(key, outfile);
  return outfile;
}

/** The path of a bundle of `entry` (an absolute .ts path under the repo), built on first use in this process. */
export function bundledEntry(entry: string): string {
  return buildOnce('bundledEntry', entry, join(ROOT, 'node_modules', '.cache', 'clinician-tests'), { packages: 'external' }, (outfile) => {
    if (/import\.meta\b/.test(readFileSync(outfile, 'utf8'))) {
      rmSync(outfile, { force: true });
      throw new Error(`${relative(ROOT, entry)} reads import.meta: a bundle of it would not do what the source does`);
    }
  });
}

/**
 * The argv (after process.execPath) that starts a test child running the
 * app's main-process services. Under run-tests.sh, which bundles the app's
 * workers (CLINICIAN_STORE_WORKER_BUNDLE names the store worker's file), the
 * child is bundled as the app's main is (ESM here, for its top-level awaits;
 * native modules external) and written beside those workers with __dirname
 * set to that folder, so it starts the bundled store worker and keychain
 * helper, as the app's main does, and skips tsx's loader (about 1.5 s per
 * start on 2 cores). Outside run-tests.sh it is the source under tsx.
 */
export function appChildArgs(entry: string): string[] {
  const workerBundle = process.env.CLINICIAN_STORE_WORKER_BUNDLE;
  if (!workerBundle) return ['--import', 'tsx', entry];
  return [
    buildOnce('appChildArgs', entry, dirname(workerBundle), {
      external: ['better-sqlite3', 'better-sqlite3-multiple-ciphers', 'keytar', 'electron'],
      banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url); const __dirname = import.meta.dirname; const __filename = import.meta.filename;" },
    }),
  ];
}
