/**
 * A pulled page of 2,000 resources is applied in slices, each one store
 * call with its audit entries. A lock between slices (the first slice's
 * commit is the event) aborts the pull with STORE_CLOSED and leaves the
 * cache consistent: every resource written has its audit entry, nothing of
 * the later slices is there, the cursor has not moved, the chain verifies;
 * the page pulled again completes it without auditing anything twice.
 * Through the worker, a chart opened while a page is applied is answered
 * before the page is done (it waits for one slice, not the page).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../shared/app-error';
import type { PullReply } from '../shared/sync-api';
import { storedEntry, verifyAuditChain } from '../electron/services/audit-chain';
import { openCacheDatabase, type CacheDatabase } from '../electron/services/cache-database';
import { loadDeviceKeys } from '../electron/services/device-keys';
import { applyPulledPage, pullCursor } from '../electron/services/sync-pull';
import { PULL_SLICE } from '../electron/services/store/store-api';
import { openWorkerStore } from '../electron/services/store/store-client';
import { openTestCache } from './support/open-test-cache';

const PATIENTS = 20;
const PER_PATIENT = 99;
const CURSOR = '42/Observation/pull-p19-o98';

/** A first-sync page as the backend sends it: 20 patients, each with 99 observations, every resource at version 1. */
function bigPage(): PullReply {
  const resources: PullReply['resources'] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const patientId = `pull-p${p}`;
    resources.push({ resourceType: 'Patient', id: patientId, meta: { versionId: '1' }, name: [{ family: `Pullfamily${p}`, given: ['Slice'] }], birthDate: '1980-01-01' });
    for (let o = 0; o < PER_PATIENT; o++) {
      resources.push({
        resourceType: 'Observation',
        id: `${patientId}-o${o}`,
        meta: { versionId: '1' },
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patientId}` },
        effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + o * 60_000).toISOString(),
        valueQuantity: { value: 60 + (o % 30), unit: '/min' },
      });
    }
  }
  return { resources, cursor: CURSOR, more: false, assignedPatients: Array.from({ length: PATIENTS }, (_, p) => `pull-p${p}`) };
}

/** Every resource the cache holds from the page, and how many audit entries name each. */
function writtenAndAudited(db: CacheDatabase): { written: string[]; auditedTimes: Map<string, number> } {
  const written = (db.prepare("SELECT resource_type || '/' || id FROM resources WHERE id LIKE 'pull-p%' ORDER BY 1").pluck().all() as string[]);
  const auditedTimes = new Map<string, number>();
  for (const { entry } of db.prepare("SELECT entry FROM audit_log WHERE action IN ('C', 'U')").all() as Array<{ entry: string }>) {
    for (const ref of storedEntry({ entry }).entities) auditedTimes.set(ref, (auditedTimes.get(ref) ?? 0) + 1);
  }
  return { written, auditedTimes };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError && err.code === code, `expected ${code}, got ${String(err)}`);
}

test('a lock between slices of a 2,000-resource page aborts the pull and leaves the cache consistent; pulling the page again completes it', async () => {
  const cache = await openTestCache('dr.pull');
  try {
    const page = bigPage();
    assert.equal(page.resources.length, 2000);
    let commits = 0;
    // The lock lands right after the first slice commits (the head is told after every commit), before the second is sent.
    cache.session.onHead(() => {
      if (++commits === 1) queueMicrotask(() => void cache.session.close());
    });
    await rejectsWith(applyPulledPage(cache.session, page), 'STORE_CLOSED');

    const session = await cache.reopen();
    const db = await cache.db();
    const first = writtenAndAudited(db);
    assert.equal(first.written.length, PULL_SLICE, 'the first slice is there, whole');
    assert.deepEqual(
      first.written.filter((ref) => (first.auditedTimes.get(ref) ?? 0) !== 1),
      [],
      'each resource written has exactly one audit entry',
    );
    assert.equal([...first.auditedTimes.keys()].filter((ref) => ref.includes('pull-p') && !first.written.includes(ref)).length, 0, 'no entry for what was not written');
    assert.equal(await pullCursor(session), null, 'the cursor did not move');
    assert.equal(verifyAuditChain(db, session.keys.publicKey, session.context.deviceId).ok, true);

    // The next sync pulls the same page again: the rest is written, the first slice is not written or audited twice.
    assert.equal(await applyPulledPage(session, bigPage()), 2000 - PULL_SLICE);
    const done = writtenAndAudited(db);
    assert.equal(done.written.length, 2000);
    assert.deepEqual(done.written.filter((ref) => done.auditedTimes.get(ref) !== 1), [], 'every resource audited once');
    assert.equal(await pullCursor(session), CURSOR);
  } finally {
    await cache.dispose();
  }
});

test('through the worker: a chart opened while a page is applied is answered before the page is done, and a lock mid-page leaves it consistent', async () => {
  const cache = await openTestCache('dr.pull');
  const { profileId, databaseFile } = cache.session.profile;
  await cache.session.close();
  try {
    const keys = await loadDeviceKeys(cache.keychain, profileId);
    let lockAfterSlices = Infinity;
    let slices = 0;
    const store = await openWorkerStore({
      file: databaseFile,
      key: keys.cacheKey,
      signingKey: keys.signingKey,
      publicKey: keys.publicKey,
      context: { actor: 'dr.pull', deviceId: profileId, purpose: 'TREAT' },
      create: false,
      onHead: () => {
        if (++slices === lockAfterSlices) void store.close();
      },
    });
    // A patient to open, then a first sync of 2,000 resources with chart opens issued meanwhile.
    const seed = bigPage();
    await applyPulledPage({ store }, { resources: seed.resources.slice(0, 100), cursor: '1/Observation/pull-p0-o98', more: true });
    let pageDone = false;
    const page = bigPage();
    page.resources = page.resources.map((r) => ({ ...r, meta: { versionId: '2' } }));
    const applying = applyPulledPage({ store }, page).then((n) => {
      pageDone = true;
      return n;
    });
    const chart = await store.call('openChart', { patientId: 'pull-p0' });
    assert.ok(chart.found);
    assert.equal(pageDone, false, 'the chart was answered while the page was still being applied');
    assert.equal(await applying, 2000);

    // A lock after the second slice of the next page: what committed is whole with its entries, the cursor stays.
    slices = 0;
    lockAfterSlices = 2;
    const next = bigPage();
    next.resources = next.resources.map((r) => ({ ...r, meta: { versionId: '3' } }));
    next.cursor = '43/Observation/pull-p19-o98';
    await rejectsWith(applyPulledPage({ store }, next), 'STORE_CLOSED');

    const db = openCacheDatabase(databaseFile, Buffer.from((await loadDeviceKeys(cache.keychain, profileId)).cacheKey), { create: false });
    try {
      const atThree = db.prepare("SELECT resource_type || '/' || id FROM resources WHERE version_id = '3' ORDER BY rowid").pluck().all() as string[];
      assert.equal(atThree.length, 2 * PULL_SLICE, 'two slices committed, no part of a third');
      const audited = new Set(
        (db.prepare("SELECT entry FROM audit_log WHERE action = 'U'").all() as Array<{ entry: string }>).flatMap(({ entry }) => storedEntry({ entry }).entities),
      );
      assert.deepEqual(atThree.filter((ref) => !audited.has(ref)), [], 'every update committed has its entry');
      assert.equal(db.prepare("SELECT value FROM sync_state WHERE key = 'pull_cursor'").pluck().get(), CURSOR, 'the cursor stayed at the last whole page');
      assert.equal(verifyAuditChain(db, keys.publicKey, profileId).ok, true);
    } finally {
      db.close();
    }
  } finally {
    await cache.dispose();
  }
});

test('on the session (its store in the worker thread), a request arriving while a page is applied (a macrotask, as an IPC message is) is answered between slices, not after the page', async () => {
  const cache = await openTestCache('dr.slices');
  try {
    const page = bigPage();
    let sliceDone = 0;
    let answeredAfterSlices: number | null = null;
    const applying = applyPulledPage(cache.session, page, () => {
      sliceDone++;
    });
    // What an IPC message is to main: a task of its own, queued while the page is being applied.
    const chart = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        cache.session.store
          .call('searchPatients', { query: 'Pullfamily' })
          .then(() => {
            answeredAfterSlices = sliceDone;
            resolve();
          }, reject);
      });
    });
    await Promise.all([applying, chart]);
    const slices = Math.ceil(page.resources.length / PULL_SLICE);
    assert.ok(answeredAfterSlices !== null && answeredAfterSlices < slices, `answered after ${answeredAfterSlices} of ${slices} slices, not after the whole page`);
  } finally {
    await cache.dispose();
  }
});
