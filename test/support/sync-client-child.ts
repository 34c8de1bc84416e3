/**
 * The client's main-process services in a child process, to be killed with
 * SIGKILL: opens the existing cache, runs the real sync worker against the
 * backend, and keeps charting (new observations and updates of earlier ones)
 * as fast as a busy ward would, waking the worker after each change as the
 * app does. Prints "ready" once syncing. Test support only; it runs until
 * killed. Configuration comes from the environment, never PHI.
 */
import { BackendClient } from '../../electron/services/backend-client';
import { openCacheSession } from '../../electron/services/cache-session';
import { recordChange } from '../../electron/services/outbox';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { SyncWorker } from '../../electron/services/sync-worker';
import { inspectCache } from './cache-inspect';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const secrets = createOsSecretStore(env('SYNC_CHILD_KEYCHAIN_SERVICE'));
const session = await openCacheSession({ dataDir: env('SYNC_CHILD_DATA_DIR'), secrets, actor: env('SYNC_CHILD_ACTOR'), create: false });
// A connection of its own to pick an earlier observation to edit again (the store's worker owns the session's).
const db = await inspectCache(session, secrets);
const token = env('SYNC_CHILD_TOKEN');
const patients = env('SYNC_CHILD_PATIENTS').split(',');
const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(env('SYNC_CHILD_BACKEND_URL'), 3000), session: () => session, token: () => token, baseDelayMs: 20, maxDelayMs: 200, batchSize: 25 });
worker.start(50);
process.stdout.write('ready\n');

let n = 0;
for (;;) {
  const update = Math.random() < 0.4 ? (db.prepare("SELECT id, patient_id FROM resources WHERE id LIKE 'kill-%' ORDER BY random() LIMIT 1").get() as { id: string; patient_id: string } | undefined) : undefined;
  const id = update?.id ?? `kill-${process.pid}-${n}`;
  const patientId = update?.patient_id ?? patients[n % patients.length]!;
  await recordChange(session, { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 50 + (n % 100), unit: '/min' } });
  worker.nudge();
  n++;
  await new Promise((r) => setTimeout(r, 2 + Math.random() * 6));
}
