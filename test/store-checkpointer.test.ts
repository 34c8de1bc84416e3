/**
 * The store's WAL checkpoints run on a thread of their own
 * (electron/services/store/store-checkpointer.ts), beside the store's
 * worker, over the real encrypted cache file: started only by a commit that takes
 * the WAL past 4 MiB (small writes wait in the WAL, as for SQLite's own
 * checkpoint), it folds every committed page into cache.db without a close
 * and with the right bytes; the thread's connection is gone once the
 * writer lock is lost and at lock, even a lock that comes while the thread
 * is still starting, and the key bytes every thread held are zero.
 * How a connection is seen: its descriptor on cache.db-wal (/proc/self/fd),
 * since every thread of the store lives in this process; each connection
 * opens the WAL itself and closes it at once when it closes (SQLite keeps a
 * closed connection's descriptor on cache.db itself open while another
 * connection of the process holds a lock on it, so that file cannot say).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readlinkSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { checkCacheIntegrity, openCacheDatabase } from '../electron/services/cache-database';
import { Checkpointer } from '../electron/services/store/store-checkpointer';
import { CHECKPOINT_AT_BYTES, StoreHost } from '../electron/services/store/store-host';
import { scratchDir } from './support/scratch';
import { bundleResources, closedTestCache, openWorkerTestStore, resourceCount } from './support/worker-store';

const CHECKPOINTER = join(import.meta.dirname, '../electron/services/store/checkpointer-worker.ts');

const openStore = () => openWorkerTestStore({ actor: 'dr.checkpoint', network: 'offline' });

/** How many SQLite connections of this process have the database `file` open: descriptors on its WAL. */
function connectionsTo(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `${file}-wal`) n += 1;
    } catch {
      // closed between the listing and the read
    }
  }
  return n;
}

/** Resolves once `holds()` is true, checked now and at every change to `file`; fails after `ms`. */
function whenFileHolds(file: string, holds: () => boolean, what: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(file);
    const done = (err?: Error) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`not within ${ms} ms: ${what}`)), ms);
    const check = () => {
      if (holds()) done();
    };
    watcher.on('change', check);
    check();
  });
}

/** `promise`, or a failure after `ms` (the timer also keeps this process waiting for a thread that does not: the checkpointer's is unref'd). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The size the file has once every committed page is in it (the WAL folded in), as a connection of the test's own sees the database. */
function fullSize(o: Awaited<ReturnType<typeof openStore>>): number {
  return Number(o.db.pragma('page_count', { simple: true })) * Number(o.db.pragma('page_size', { simple: true }));
}

/** Resolves once this process has `n` connections to `file` (the checkpointer opens its own once its thread has started); fails after `ms`. Polls /proc, which has no change events. */
async function whenConnections(file: string, n: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (connectionsTo(file) !== n) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${n} connections to the cache (${connectionsTo(file)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Imports until one commit leaves the WAL past the host's 4 MiB: that commit starts (or nudges) the checkpointer. */
async function growWal(o: Awaited<ReturnType<typeof openStore>>, patientId: string): Promise<void> {
  const file = o.cache.session.profile.databaseFile;
  for (let n = 0; n < 8; n += 1) {
    await o.store.call('importResources', { resources: bundleResources(`${patientId}-${n}`, 4000) });
    if (statSync(`${file}-wal`).size > CHECKPOINT_AT_BYTES) return;
  }
  assert.fail('eight imports did not take the WAL past 4 MiB');
}

test('a small commit starts no checkpointer and waits in the WAL; one that takes the WAL past 4 MiB starts it, and then cache.db alone holds every committed page', async () => {
  const o = await openStore();
  const file = o.cache.session.profile.databaseFile;
  try {
    await o.store.call('importResources', { resources: bundleResources('ckpt-p0', 40) });
    assert.equal(connectionsTo(file), 2, "the store's connection and the test's own: no thread for a small write");
    assert.ok(statSync(file).size < fullSize(o), 'the small import waits in the WAL');
    await growWal(o, 'ckpt-p1');
    await whenConnections(file, 3);
    // The thread is up: the next large commit is folded in by it.
    await growWal(o, 'ckpt-p1b');
    const full = fullSize(o);
    await whenFileHolds(file, () => statSync(file).size >= full, 'cache.db holds every committed page');
    assert.equal(connectionsTo(file), 3, "the store's connection, its checkpointer's and the test's own");
    // cache.db alone, without its WAL, is whole and holds both imports: the checkpoint wrote the right pages.
    const scratch = scratchDir('checkpointed-copy');
    try {
      const copy = join(scratch.path, 'cache.db');
      copyFileSync(file, copy);
      const db = openCacheDatabase(copy, Buffer.from(o.keys.cacheKey), { create: false });
      try {
        checkCacheIntegrity(db);
        for (const id of ['ckpt-p0', 'ckpt-p1-0', 'ckpt-p1b-0']) assert.equal(resourceCount(db, id), resourceCount(o.db, id), id);
        assert.equal(resourceCount(db, 'ckpt-p1b-0'), 4001);
      } finally {
        db.close();
      }
    } finally {
      scratch.remove();
    }
    const closed = await o.store.closeAndCheck();
    assert.equal(closed.keyZeroed, true, "the store's key bytes and its checkpointer's are zero");
    assert.equal(connectionsTo(file), 1, "only the test's own connection is left");
  } finally {
    await o.dispose();
  }
});

test('a lost writer lock stops the checkpointer: its connection closes, and the store stays query-only', async () => {
  const o = await openStore();
  const file = o.cache.session.profile.databaseFile;
  try {
    await growWal(o, 'ckpt-p2');
    await whenConnections(file, 3);
    await o.store.writerLost();
    assert.equal(connectionsTo(file), 2, "the checkpointer's connection is closed once writerLost answers");
    await assert.rejects(o.store.call('importResources', { resources: bundleResources('ckpt-p3', 1) }));
    // As the session closes after losing the writer lock: nothing more is written, the head included.
    assert.equal((await o.store.closeAndCheck({ signHead: false })).keyZeroed, true);
  } finally {
    await o.dispose();
  }
});

test('a lock right after the checkpointer was started, while it may still be starting, waits for it and leaves no connection or key behind', async () => {
  for (let round = 0; round < 3; round += 1) {
    const o = await openStore();
    const file = o.cache.session.profile.databaseFile;
    try {
      await growWal(o, `ckpt-lock-${round}`);
      const closed = await o.store.closeAndCheck();
      assert.equal(closed.keyZeroed, true);
      assert.equal(connectionsTo(file), 1, "only the test's own connection is left");
    } finally {
      await o.dispose();
    }
  }
});

test('a checkpointer refuses a journal that is not the one it was started beside: it opens nothing (no new -wal), fails, and zeroes its key', async () => {
  const { cache, databaseFile, keys } = await closedTestCache('dr.checkpoint');
  try {
    assert.equal(existsSync(`${databaseFile}-wal`), false, 'closed cleanly: no journal beside it');
    const key = new Uint8Array(keys.cacheKey);
    const thread = Checkpointer.start(CHECKPOINTER, databaseFile, key, 'the store journal that was deleted');
    assert.ok(thread);
    await within(thread.exited, 20_000, 'the thread ends');
    assert.equal(thread.failed, true);
    assert.equal(thread.checkpoints, 0);
    assert.deepEqual(thread.stop(), { keyZeroed: true });
    assert.equal(existsSync(`${databaseFile}-wal`), false, 'no connection was opened to make one');
    assert.ok(key.some((b) => b !== 0), "the host's own key is its own: only the thread's copy was zeroed");
  } finally {
    await cache.dispose();
  }
});

test('a checkpointer thread that dies without a word is dropped: the store keeps answering and committing, and close does not claim that key copy was zeroed', async () => {
  const { cache, databaseFile, keys, hostOpen } = await closedTestCache('dr.checkpoint');
  try {
    const { key, open } = hostOpen();
    const host = new StoreHost(openCacheDatabase, { checkpointerModule: join(import.meta.dirname, 'support/dead-checkpointer.ts') });
    assert.equal(host.handle({ id: 1, call: 'open', args: open }).ok, true);
    // A write past 4 MiB of WAL starts the thread; its exit reaches this thread's event loop.
    for (let n = 0; n < 8 && statSync(`${databaseFile}-wal`).size <= CHECKPOINT_AT_BYTES; n += 1) {
      assert.equal(host.handle({ id: 10 + n, call: 'importResources', args: { resources: bundleResources(`ckpt-dead-big-${n}`, 4000) } }).ok, true);
    }
    const state = (host as unknown as { state: { checkpointer: Checkpointer | null } }).state;
    assert.ok(state.checkpointer, 'the thread was started');
    await within(state.checkpointer!.exited, 20_000, 'the thread ends');
    const imported = host.handle({ id: 2, call: 'importResources', args: { resources: bundleResources('ckpt-dead', 5) } });
    assert.equal(imported.ok, true);
    assert.equal(state.checkpointer, null, 'the failed thread was dropped');
    const closed = host.handle({ id: 3, call: 'close', args: { signHead: true } });
    assert.deepEqual(closed.ok && closed.value, { keyZeroed: false });
    assert.ok(new Uint8Array(key).every((b) => b === 0), "the store's own key bytes are zero all the same");
    const db = openCacheDatabase(databaseFile, Buffer.from(keys.cacheKey), { create: false });
    try {
      assert.equal(resourceCount(db, 'ckpt-dead'), 6, 'the import committed');
    } finally {
      db.close();
    }
  } finally {
    await cache.dispose();
  }
});
