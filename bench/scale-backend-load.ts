/**
 * Fills the scale benchmark's backend database (SQLite in a data folder)
 * with the panel's bundles through the backend's own loader (loadBundles,
 * what `serve --bundles` runs at start), adds the clinician and assigns the
 * panel one patient at a time, as a panel grows (each assignment gives that
 * patient's resources a change number of their own, so a first sync brings
 * whole patients one after another; one assignment of the whole panel
 * would number every resource alike, and the feed would then send them by
 * type, every Patient last). In a process of its own: loading a million
 * resources takes longer than the backend's start timeout in test support,
 * and its memory must not count in the benchmark's peak RSS. The backend
 * process then serves this database. Started by bench/scale-bench.ts with
 * `node --import tsx`; benchmarks only.
 */
import { assignPatients } from '../server/organisation/assignments';
import { addClinician } from '../server/organisation/organisation';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { openBackendDb } from '../test/support/backend-db';

const [dataDir, bundlesDir, clinicianId] = process.argv.slice(2);
if (!dataDir || !bundlesDir || !clinicianId) throw new Error('usage: scale-backend-load.ts DATA_DIR BUNDLES_DIR CLINICIAN_ID');
const clock = () => new Date();
const start = Date.now();
const { db, close } = await openBackendDb('sqlite', dataDir);
const patients = await loadBundles(db, bundleFiles([bundlesDir]));
const loadedS = (Date.now() - start) / 1000;
await addClinician(db, clinicianId, 'Dr Scale', clock);
for (const id of patients) await assignPatients(db, clinicianId, [id], clock);
await close();
process.stdout.write(JSON.stringify({ patients: patients.length, load_seconds: loadedS, seconds: (Date.now() - start) / 1000 }) + '\n');
process.exit(0);
