// Bundles the store workers the benchmarks run, as the app runs its own
// (one CommonJS file beside main, native modules external): the app's
// workers through build/bundle-electron.mjs itself, and the plaintext
// baseline's worker and checkpointer (bench/plain-store-worker.ts,
// bench/plain-checkpointer-worker.ts) with the same settings,
// so neither pays tsx's loader or its compiled modules in its heap and RSS.
// Also the scale benchmark's device process (bench/scale-device-child.ts),
// whose RSS is the device's figure: the app's main process is bundled too,
// and tsx's loader alone holds about 33 MB in a process (an empty script:
// 41 MB plain, 74 MB under --import tsx). It is ESM (it awaits at top level),
// with a require for the bundled CommonJS code that asks for one.
// Usage: node bench/bundle-workers.mjs <outdir inside the repository>
// (native modules resolve from the repository's node_modules). Never for
// the app: the plaintext worker is a benchmark baseline only.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';

const outdir = process.argv[2];
if (!outdir) {
  console.error('usage: node bench/bundle-workers.mjs <outdir>');
  process.exit(1);
}
execFileSync(process.execPath, ['build/bundle-electron.mjs'], { stdio: 'inherit', env: { ...process.env, CLINICIAN_ELECTRON_OUTDIR: outdir } });
const plain = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  external: ['better-sqlite3', 'better-sqlite3-multiple-ciphers', 'keytar', 'electron'],
  define: { 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
};
await build({ ...plain, entryPoints: ['bench/plain-store-worker.ts'], outfile: `${outdir}/plain-store-worker.cjs` });
// Its checkpointer thread, started from beside it as the app's is.
await build({ ...plain, entryPoints: ['bench/plain-checkpointer-worker.ts'], outfile: `${outdir}/plain-checkpointer-worker.cjs` });
await build({
  ...plain,
  format: 'esm',
  define: {},
  // __dirname as in the app's CommonJS main: the keychain helper and the store worker are found beside it.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url); const __dirname = import.meta.dirname; const __filename = import.meta.filename;" },
  entryPoints: ['bench/scale-device-child.ts'],
  outfile: `${outdir}/scale-device-child.mjs`,
});
