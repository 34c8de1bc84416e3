/**
 * A child process for export-fhir.test.ts: exports one patient through the
 * export surface (as the app wires it) and is killed (SIGKILL, no cleanup)
 * right after the exported file is renamed into place, to show what a crash
 * at that moment leaves behind. Env: SVC (test keychain service), DATA
 * (cache folder), OUT (save folder), PID (patient id). Test-only.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { openCacheSession } from '../../electron/services/cache-session';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { exportRig } from './export-harness';

const session = await openCacheSession({ dataDir: process.env.DATA!, secrets: createOsSecretStore(process.env.SVC!), actor: 'dr.export', actorName: 'Dr Ada Export', create: false });
const rig = exportRig(() => session, process.env.OUT!);
rig.destination.answer = 'crash.json';
const rename = fs.renameSync;
fs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
  rename(from, to);
  process.kill(process.pid, 'SIGKILL');
};
syncBuiltinESMExports();
await rig.call('export.fhir', { patientId: process.env.PID!, reason: { code: 'referral', text: 'crash test' } });
process.stdout.write('not killed\n');
