/**
 * A device's main-process services in a child process, to be killed with
 * SIGKILL by test/wal-loss.test.ts: opens the existing cache, does audited
 * work and uploads the chain; checkpoints, so that all of it is in the
 * database file; then holds a read transaction open on a connection of its
 * own (./cache-inspect.ts) from that empty WAL on, so no checkpoint of the
 * store's worker can copy anything into the database file and what follows
 * stays in the WAL only; does more work and uploads it (the backend, and the
 * keychain, now hold receipts for entries that live only in the WAL); does a
 * little more, prints the seqs as JSON and waits to be killed. Test support
 * only; configuration from the environment, never PHI.
 */
import { openCacheSession } from '../../electron/services/cache-session';
import { createOsSecretStore } from '../../electron/services/secret-store';
import { BackendClient } from '../../electron/services/backend-client';
import { uploadAuditChain } from '../../electron/services/audit-upload';
import { inspectCache } from './cache-inspect';
import { work } from './rollback-backend';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const secrets = createOsSecretStore(env('WAL_CHILD_KEYCHAIN_SERVICE'));
const session = await openCacheSession({ dataDir: env('WAL_CHILD_DATA_DIR'), secrets, actor: env('WAL_CHILD_ACTOR'), create: false });
// The store's worker owns the session's connection: the checkpoint and the reader that pins it run on this one.
const db = await inspectCache(session, secrets);
const localHead = (): number => (db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number | null) ?? 0;
const backend = new BackendClient(env('WAL_CHILD_BACKEND_URL'));
const token = env('WAL_CHILD_TOKEN');
const patients = env('WAL_CHILD_PATIENTS').split(',');

await work(session, patients, 10, 'wal-1');
await uploadAuditChain(session, backend, token);
const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
if (!checkpoint || checkpoint.busy !== 0 || checkpoint.log !== 0) throw new Error('the checkpoint did not empty the WAL');
// A read transaction begun on the empty WAL reads the database file only; while it is open, no checkpoint
// (the worker's automatic ones included) may copy a frame into that file, so every later commit stays in the WAL.
db.exec('BEGIN');
const checkpointed = localHead();

await work(session, patients, 10, 'wal-2');
const uploaded = (await uploadAuditChain(session, backend, token))!.seq;
await work(session, patients, 3, 'wal-3');
// The pinned reader still sees the checkpoint; the head of what committed since is the store's.
const written = (await session.store.call('auditHead', {}))?.seq ?? 0;
process.stdout.write(`${JSON.stringify({ checkpointed, uploaded, written })}\n`);
setInterval(() => undefined, 60_000);
