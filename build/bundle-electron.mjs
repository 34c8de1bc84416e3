// Bundles the Electron main process and the preload into dist/electron.
// The sandboxed preload cannot require modules, so it is one self-contained
// file; native modules and electron itself stay external.
import { Buffer } from 'node:buffer';
import { build } from 'esbuild';

// The update public key (base64 of the raw 32-byte Ed25519 key, as
// `npm run update-sign -- keygen` prints it) is compiled into main.cjs, so
// no file or variable on the user's machine can swap it. Absent: the build
// cannot verify updates and its updater stays 'off', saying so.
const updatePublicKey = (process.env.CLINICIAN_UPDATE_PUBLIC_KEY ?? '').trim();
if (updatePublicKey !== '' && (Buffer.from(updatePublicKey, 'base64').length !== 32 || Buffer.from(updatePublicKey, 'base64').toString('base64') !== updatePublicKey)) {
  console.error('CLINICIAN_UPDATE_PUBLIC_KEY must be base64 of a raw 32-byte Ed25519 public key (npm run update-sign -- keygen prints it)');
  process.exit(1);
}

// Development build (loopback defaults, CLINICIAN_* variables beat the
// policy file, DevTools) only when asked for at bundle time: `npm start`
// passes --development-build; CLINICIAN_DEVELOPMENT_BUILD=1 does the same.
// Anything else, including every packaging path, bundles a release build.
const developmentBuild = process.env.CLINICIAN_DEVELOPMENT_BUILD === '1' || process.argv.includes('--development-build');
// Tests bundle into a scratch folder; everything else into dist/electron.
const outdir = process.env.CLINICIAN_ELECTRON_OUTDIR || 'dist/electron';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  external: ['electron', 'keytar', 'better-sqlite3-multiple-ciphers', '@vscode/policy-watcher'],
  // A CommonJS bundle has no import.meta; the module's own folder and file are __dirname and __filename there.
  define: {
    'import.meta.dirname': '__dirname',
    'import.meta.filename': '__filename',
    __CLINICIAN_UPDATE_PUBLIC_KEY__: JSON.stringify(updatePublicKey),
    __CLINICIAN_DEVELOPMENT_BUILD__: JSON.stringify(developmentBuild),
  },
};

await build({ ...common, entryPoints: ['electron/main.ts'], outfile: `${outdir}/main.cjs` });
await build({ ...common, entryPoints: ['electron/preload.ts'], outfile: `${outdir}/preload.cjs` });
// The keychain helper main forks once its own keychain connection fails (see electron/services/secret-store.ts).
await build({ ...common, entryPoints: ['electron/services/keychain-helper.ts'], outfile: `${outdir}/keychain-helper.cjs` });
// The cache store's worker thread (electron/services/store/store-client.ts starts it from beside main.cjs).
await build({ ...common, entryPoints: ['electron/services/store/store-worker.ts'], outfile: `${outdir}/cache-store-worker.cjs` });
// Its checkpointer thread, started by the store's worker from beside it (electron/services/store/store-checkpointer.ts).
await build({ ...common, entryPoints: ['electron/services/store/checkpointer-worker.ts'], outfile: `${outdir}/cache-checkpointer-worker.cjs` });
