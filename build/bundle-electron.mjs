// Bundles the Electron main process and the preload into dist/electron.
// The sandboxed preload cannot require modules, so it is one self-contained
// file; native modules and electron itself stay external.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  external: ['electron', 'keytar', 'better-sqlite3-multiple-ciphers'],
  // A CommonJS bundle has no import.meta; the module's own folder is __dirname there.
  define: { 'import.meta.dirname': '__dirname' },
};

await build({ ...common, entryPoints: ['electron/main.ts'], outfile: 'dist/electron/main.cjs' });
await build({ ...common, entryPoints: ['electron/preload.ts'], outfile: 'dist/electron/preload.cjs' });
// The keychain helper main forks once its own keychain connection fails (see electron/services/secret-store.ts).
await build({ ...common, entryPoints: ['electron/services/keychain-helper.ts'], outfile: 'dist/electron/keychain-helper.cjs' });
