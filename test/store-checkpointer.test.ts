/**
 * The store's WAL checkpoints run on a thread of their own
 * (electron/services/store/store-checkpointer.ts), beside the store's
 * worker, over the real SQLCipher file: a commit reaches cache.db without
 * waiting for the 1,000 WAL pages after which the store's own connection
 * would checkpoint inside a call; the thread's connection is gone once the
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
import { readdirSync, readlinkSync, statSync, watch } from 'node:fs';
import { bundleResources, openWorkerTestStore } from './support/worker-store';

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

/** The size the file has once every committed page is in it (the WAL folded in), as a connection of the test's own sees the database. */
function fullSize(o: Awaited<ReturnType<typeof openStore>>): number {
  return Number(o.db.pragma('page_count', { simple: true })) * Number(o.db.pragma('page_size', { simple: true }));
}

test('a small commit reaches cache.db through the checkpointer thread, with no close and far below 1,000 WAL pages', async () => {
  const o = await openStore();
  const file = o.cache.session.profile.databaseFile;
  try {
    const before = statSync(file).size;
    await o.store.call('importResources', { resources: bundleResources('ckpt-p1', 40) });
    const full = fullSize(o);
    assert.ok(full > before, 'the import added pages the file does not hold yet');
    await whenFileHolds(file, () => statSync(file).size >= full, 'cache.db holds every committed page');
    assert.equal(connectionsTo(file), 3, "the store's connection, its checkpointer's and the test's own");
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
    await o.store.call('importResources', { resources: bundleResources('ckpt-p2', 10) });
    const full = fullSize(o);
    await whenFileHolds(file, () => statSync(file).size >= full, 'cache.db holds every committed page');
    assert.equal(connectionsTo(file), 3);
    await o.store.writerLost();
    assert.equal(connectionsTo(file), 2, "the checkpointer's connection is closed once writerLost answers");
    await assert.rejects(o.store.call('importResources', { resources: bundleResources('ckpt-p3', 1) }));
    assert.equal((await o.store.closeAndCheck()).keyZeroed, true);
  } finally {
    await o.dispose();
  }
});

test('a lock right after open, while the checkpointer may still be starting, waits for it and leaves no connection or key behind', async () => {
  for (let round = 0; round < 3; round += 1) {
    const o = await openStore();
    const file = o.cache.session.profile.databaseFile;
    try {
      const closed = await o.store.closeAndCheck();
      assert.equal(closed.keyZeroed, true);
      assert.equal(connectionsTo(file), 1, "only the test's own connection is left");
    } finally {
      await o.dispose();
    }
  }
});
