/**
 * The app's session runs its cache store in a worker thread (issue 14): the
 * main thread keeps answering while a long call runs, keeps no copy of the
 * cache key, and a lock closes the store at once (calls refused) while the
 * worker finishes in the background (the folder is free once close
 * resolves). Real encrypted cache file, real keychain, the app's openCacheSession.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { openCacheSession } from '../electron/services/cache-session';
import { generateDeviceKeys } from '../electron/services/device-keys';
import { openTestCache } from './support/open-test-cache';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { bundleResources } from './support/worker-store';

test('a long store call runs off the main thread: a turn of main\'s event loop comes before its answer', async (t) => {
  const cache = await openTestCache('dr.worker');
  t.after(() => cache.dispose());
  const resources = bundleResources('worker-p1', 2000);
  let turned = false;
  const answer = cache.session.store.call('importResources', { resources }).then((summary) => ({ summary, turned }));
  // On the main thread the call would have run to its end before this immediate could fire.
  setImmediate(() => {
    turned = true;
  });
  const { summary, turned: turnedFirst } = await answer;
  assert.equal(summary.resources, resources.length);
  assert.equal(turnedFirst, true, 'main answered its event loop while the worker imported 2,000 resources');
});

test('main keeps no copy of the cache key: the new keys\' buffer is zeroed once the worker has it, and the session holds none', async (t) => {
  const keychain = testKeychain();
  const dir = scratchDir();
  t.after(async () => {
    dir.remove();
    await keychain.cleanup();
  });
  const keys = generateDeviceKeys();
  const session = await openCacheSession({ dataDir: join(dir.path, 'cache'), secrets: keychain, actor: 'dr.worker', create: true, newKeys: keys });
  t.after(() => session.close());
  assert.ok(keys.cacheKey.every((b) => b === 0), 'the buffer handed to the open is all zeros');
  assert.equal('cacheKey' in session.keys, false);
  // The store still works: the key lives in the worker.
  assert.deepEqual(await session.store.call('patientWorklist', {}), { patients: [], truncated: false });
});

test('close refuses calls at once, answers the calls sent before it, and frees the folder once it resolves', async (t) => {
  const cache = await openTestCache('dr.worker');
  t.after(() => cache.dispose());
  await cache.session.store.call('importResources', { resources: bundleResources('worker-p2', 50) });
  const before = cache.session.store.call('openChart', { patientId: 'worker-p2' });
  const closed = cache.session.close();
  await assert.rejects(cache.session.store.call('openChart', { patientId: 'worker-p2' }), (err) => err instanceof AppError && err.code === 'STORE_CLOSED');
  const chart = await before;
  assert.ok(chart.found, 'a call sent before close is answered');
  await closed;
  // The folder lock is free: a new session opens at once, without waiting for the lock.
  const again = await openCacheSession({ dataDir: cache.dataDir, secrets: cache.keychain, actor: 'dr.worker', create: false, lockWaitMs: 0 });
  cache.session = again;
  const reopened = await again.store.call('openChart', { patientId: 'worker-p2' });
  assert.ok(reopened.found);
});
