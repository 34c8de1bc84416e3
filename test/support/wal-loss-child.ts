/**
 * A device's main-process services in a child process, to be killed with
 * SIGKILL by test/wal-loss.test.ts: opens the existing cache, does audited
 * work and uploads the chain; checkpoints, so that all of it is in the
 * database file; turns automatic checkpoints off, so what follows stays in
 * the WAL only; does more work and uploads it (the backend, and the
 * keychain, now hold receipts for entries that live only in the WAL); does a
 * little more, prints the seqs as JSON and waits to be killed. Test support
 * only; configuration from the environment, never PHI.
 */
import { openCacheSession } from '../../electron/services/cache-session';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { BackendClient } from '../../electron/services/backend-client';
import { uploadAuditChain } from '../../electron/services/audit-upload';
import { localHead, work } from './rollback-backend';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const session = await openCacheSession({ dataDir: env('WAL_CHILD_DATA_DIR'), secrets: createOsSecretStore(env('WAL_CHILD_KEYCHAIN_SERVICE')), actor: env('WAL_CHILD_ACTOR'), create: false });
const backend = new BackendClient(env('WAL_CHILD_BACKEND_URL'));
const token = env('WAL_CHILD_TOKEN');
const patients = env('WAL_CHILD_PATIENTS').split(',');

await work(session, patients, 10, 'wal-1');
await uploadAuditChain(session, backend, token);
session.db.pragma('wal_checkpoint(TRUNCATE)');
session.db.pragma('wal_autocheckpoint = 0');
const checkpointed = localHead(session);

await work(session, patients, 10, 'wal-2');
const uploaded = (await uploadAuditChain(session, backend, token))!.seq;
await work(session, patients, 3, 'wal-3');
process.stdout.write(`${JSON.stringify({ checkpointed, uploaded, written: localHead(session) })}\n`);
setInterval(() => undefined, 60_000);
