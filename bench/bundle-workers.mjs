// Bundles the store workers the benchmarks run, as the app runs its own
// (one CommonJS file beside main, native modules external): the app's
// workers through build/bundle-electron.mjs itself, and the plaintext
// baseline's worker and checkpointer (bench/plain-store-worker.ts,
// bench/plain-checkpointer-worker.ts) with the same settings,
// so neither pays tsx's loader or its compiled modules in its heap and RSS.
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
