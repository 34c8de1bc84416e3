/**
 * The cache store's API, driven directly: its worker thread over a real
 * encrypted cache file whose key comes from the real keychain. Each call is one
 * transaction: a failing one leaves nothing behind, and an audit entry
 * commits only with the read or write it records (a failing entry undoes the
 * access; a worker killed mid-transaction leaves neither). After close every
 * call is refused with STORE_CLOSED and the key bytes the worker held are
 * zero; junk messages get typed errors and change nothing. Faults are real:
 * a trigger another connection installs, and Worker.terminate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { storedEntry, verifyAuditChain } from '../electron/services/audit-chain';
import { openWorkerStore } from '../electron/services/store/store-client';
import { StoreHost } from '../electron/services/store/store-host';
import { chartGroupSchema, chartSchema } from '../shared/contract';
import { ROOT } from './support/cache-cli';
import { auditCount, bundleResources, closedTestCache, openWorkerTestStore, refuseAuditEntriesNaming, rejectsWith, resourceCount } from './support/worker-store';

const ACTOR = 'dr.store';

/** A fresh cache made by the app's own first run, then opened in a store worker with the key from the keychain. */
const openStore = () => openWorkerTestStore({ actor: ACTOR, actorName: 'Dr Store', network: 'offline' });

test('reads and writes answer from the worker, each with its audit entries in the log, and the chain verifies', async () => {
  const o = await openStore();
  try {
    const before = auditCount(o.db);
    const summary = await o.store.call('importResources', { resources: bundleResources('store-p1', 5) });
    assert.equal(summary.patients, 1);
    assert.equal(resourceCount(o.db, 'store-p1'), summary.resources);
    const imported = auditCount(o.db);
    assert.ok(imported > before, 'the import wrote its entries');

    const answer = await o.store.call('openChart', { patientId: 'store-p1' });
    assert.ok(answer.found);
    // The chart comes as JSON text built from the stored resources: it parses to a chart as chart.open's contract says.
    const chart = chartSchema.parse(JSON.parse(answer.chartJson));
    assert.equal(chart.summary.id, 'store-p1');
    assert.equal(chart.groups.Observation?.total, 5);
    assert.equal(chart.groups.Observation?.items.length, 0, 'chart.open counts the observations; their history is chart.results');
    // The five share one code: the newest of them (o0, the latest date) is the code's latest.
    assert.deepEqual(chart.latestObservations.map((r) => r.id), ['store-p1-o0']);
    assert.equal(chart.patient.id, 'store-p1');
    const readEntries = () => (o.db.prepare("SELECT entry FROM audit_log WHERE patient_id = ? AND action = 'R'").all('store-p1') as Array<{ entry: string }>).map(storedEntry);
    assert.deepEqual(
      readEntries().map((e) => [e.action, e.outcome, e.network, e.actor, e.entities]),
      [['R', '0', 'offline', ACTOR, ['Patient/store-p1', 'Observation/store-p1-o0']]],
      'one read entry naming the patient and the one observation sent, with the network state main sent',
    );
    // The Results tab's read: the five newest observations and their count, with its own read entry naming each.
    const results = await o.store.call('chartResults', { patientId: 'store-p1' });
    assert.ok(results.found);
    const history = chartGroupSchema.parse(JSON.parse(results.groupJson));
    assert.equal(history.total, 5);
    assert.deepEqual(history.items.map((r) => r.id).sort(), [0, 1, 2, 3, 4].map((j) => `store-p1-o${j}`));
    assert.deepEqual(readEntries()[1]!.entities, ['Patient/store-p1', ...history.items.map((r) => `Observation/${r.id}`)]);
    // The print view reads the chart parsed inside the store (chartOf): chart.open's chart with the observations' history in it, and no latest ones.
    const printed = await o.store.call('preparePrint', { patientId: 'store-p1', output: 'pdf', reasonCode: 'continuity-of-care', query: null });
    assert.ok(printed.found);
    const opened = JSON.parse(answer.chartJson) as typeof chart;
    assert.deepEqual(printed.chart, { ...opened, groups: { ...opened.groups, Observation: history }, latestObservations: [] });

    const missing = await o.store.call('openChart', { patientId: 'not-here' });
    assert.deepEqual(missing, { found: false });
    assert.equal(o.db.prepare("SELECT outcome FROM audit_log WHERE patient_id = 'not-here'").pluck().get(), '4', 'a failed read is audited in the same call');
    assert.deepEqual(await o.store.call('chartResults', { patientId: 'not-here' }), { found: false });
    assert.deepEqual(o.db.prepare("SELECT outcome FROM audit_log WHERE patient_id = 'not-here'").pluck().all(), ['4', '4'], 'so is a failed read of the results');

    const search = await o.store.call('searchPatients', { query: chart.summary.name.split(' ')[0]! });
    assert.deepEqual(search.patients.map((p) => p.id), ['store-p1']);
    const worklist = await o.store.call('patientWorklist', {});
    assert.deepEqual(worklist.patients.map((p) => p.id), ['store-p1']);
    const trail = await o.store.call('patientAccessTrail', { patientId: 'store-p1', limit: 10 });
    assert.ok(trail.length >= 3);
    assert.equal(trail[0]!.actorName, 'Dr Store');

    const head = await o.store.call('auditHead', {});
    assert.equal(head?.seq, auditCount(o.db));
    assert.equal(verifyAuditChain(o.db, o.keys.publicKey, o.deviceId).ok, true);
  } finally {
    await o.dispose();
  }
});

test('the audit chain answers from the worker: upload batches, the shared-entry search, receipts, a lost range, a rollback re-chain, verify', async () => {
  const o = await openStore();
  try {
    await o.store.call('appendAudit', { records: Array.from({ length: 5 }, (_, i) => ({ action: 'E' as const, subtype: 'search-type' as const, patientId: null, entities: [], query: `q${i}`, outcome: '0' as const })) });
    const all = await o.store.call('auditEntriesAfter', { afterSeq: 0, limit: 100 });
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.equal(all[1]!.prevHash, all[0]!.hash, 'entries as stored, chained');
    assert.deepEqual((await o.store.call('auditEntriesAfter', { afterSeq: 3, limit: 1 })).map((e) => e.seq), [4]);
    assert.equal(await o.store.call('auditCountUpTo', { upTo: 3 }), 3);
    assert.deepEqual(await o.store.call('auditEntryAt', { upTo: 5, index: 2 }), { seq: 3, hash: all[2]!.hash });
    assert.equal(await o.store.call('auditEntryAt', { upTo: 5, index: 9 }), null);
    assert.equal(await o.store.call('chainHoldsEntry', { seq: 4, hash: all[3]!.hash }), true);
    assert.equal(await o.store.call('chainHoldsEntry', { seq: 4, hash: all[2]!.hash }), false);

    // A kept head the chain lacks (entries lost): a rollback entry naming the range continues the chain.
    const lost = await o.store.call('recordLostRange', { lost: { seq: 9, hash: 'a'.repeat(64) } });
    assert.equal(lost.seq, 6);
    // The backend holds entries up to 7 of another history: ours after 3 are re-chained behind its head.
    const rechained = await o.store.call('continueAfterRollback', { kept: { seq: 3, hash: all[2]!.hash }, backend: { seq: 7, hash: 'b'.repeat(64) } });
    assert.deepEqual(rechained, { seq: 8, rechained: 3 });
    const report = await o.store.call('verifyChain', {});
    assert.equal(report.ok, true, 'a bridged chain verifies');
    assert.equal(report.lastSeq, 11);
    assert.equal(report.unsignedTail, 0, 'the re-chain signs its head');
    // The same file, edited behind the store's back, is named by verify.
    o.db.prepare('UPDATE audit_log SET hash = ? WHERE seq = 2').run('c'.repeat(64));
    const broken = await o.store.call('verifyChain', {});
    assert.deepEqual(broken.firstBad, { seq: 2, problem: 'hash-mismatch' });
  } finally {
    await o.dispose();
  }
});

test('a write whose audit entry fails rolls back whole: no resource, no entry', async () => {
  const o = await openStore();
  try {
    refuseAuditEntriesNaming(o.db, 'refuse-me');
    const before = auditCount(o.db);
    const err = await rejectsWith(o.store.call('importResources', { resources: bundleResources('refuse-me', 20) }), 'INTERNAL');
    assert.doesNotMatch(err.message, /refused by the test|refuse-me/, 'no SQLite text crosses');
    assert.equal(resourceCount(o.db, 'refuse-me'), 0, 'the resources written before the entry failed are gone');
    assert.equal(auditCount(o.db), before);
    // The store goes on: the next call commits.
    await o.store.call('importResources', { resources: bundleResources('kept-p', 2) });
    assert.ok(resourceCount(o.db, 'kept-p') > 0);
    // A typed refusal from inside a call changes nothing and crosses with its code and words.
    await o.store.call('setWorkspace', { changes: { openPatientId: 'kept-p', tab: 'notes' } });
    const refused = await rejectsWith(o.store.call('setWorkspace', { changes: { tab: 'results', openPatientId: 'not-here' } }), 'NOT_FOUND');
    assert.equal(refused.message, "That patient is not in this computer's cache.");
    assert.deepEqual(await o.store.call('getWorkspace', {}), { openPatientId: 'kept-p', tab: 'notes', theme: 'system', density: 'system' }, 'the tab of the refused call was not kept');
    assert.equal(verifyAuditChain(o.db, o.keys.publicKey, o.deviceId).ok, true);
  } finally {
    await o.dispose();
  }
});

test('an audit entry is in the same transaction as what it records: a read whose entry fails returns nothing, and no entry of a failed call stays', async () => {
  const o = await openStore();
  try {
    await o.store.call('importResources', { resources: bundleResources('refuse-me', 3) });
    refuseAuditEntriesNaming(o.db, 'refuse-me');
    const before = auditCount(o.db);
    await rejectsWith(o.store.call('openChart', { patientId: 'refuse-me' }), 'INTERNAL');
    await rejectsWith(o.store.call('searchPatients', { query: 'refuse-me' }), 'INTERNAL');
    // Three entries in one call, the last refused: none of the three is kept.
    await rejectsWith(
      o.store.call('appendAudit', {
        records: ['first', 'second', 'refuse-me'].map((what) => ({ action: 'E' as const, subtype: 'search-type' as const, patientId: null, entities: [`urn:test:${what}`], query: null, outcome: '0' as const })),
      }),
      'INTERNAL',
    );
    assert.equal(auditCount(o.db), before);
    assert.equal(o.db.prepare("SELECT count(*) FROM audit_log WHERE entry LIKE '%urn:test:first%'").pluck().get(), 0);
  } finally {
    await o.dispose();
  }
});

test('a worker killed in the middle of a write leaves neither the write nor its audit entries, and the cache opens again whole', async () => {
  const o = await openStore();
  try {
    const before = auditCount(o.db);
    const resources = Array.from({ length: 40 }, (_, i) => bundleResources(`kill-p${i}`, 150)).flat();
    const running = o.store.call('importResources', { resources });
    // The event: the worker holds the write lock (its BEGIN IMMEDIATE), seen by this connection's own attempt failing.
    o.db.pragma('busy_timeout = 0');
    for (;;) {
      try {
        o.db.exec('BEGIN IMMEDIATE');
        o.db.exec('ROLLBACK');
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') break;
        throw err;
      }
    }
    await o.store.kill();
    await rejectsWith(running, 'STORE_FAILED');
    await rejectsWith(o.store.call('auditHead', {}), 'STORE_CLOSED');
    o.db.pragma('busy_timeout = 5000');
    assert.equal(o.db.prepare("SELECT count(*) FROM resources WHERE patient_id LIKE 'kill-p%'").pluck().get(), 0);
    assert.equal(o.db.prepare("SELECT count(*) FROM patients WHERE id LIKE 'kill-p%'").pluck().get(), 0);
    assert.equal(auditCount(o.db), before);
    assert.equal(o.db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(verifyAuditChain(o.db, o.keys.publicKey, o.deviceId).ok, true);
  } finally {
    await o.dispose();
  }
});

test('after close every call is refused with STORE_CLOSED and the key bytes the worker held are zero', async () => {
  const o = await openStore();
  try {
    const queued = o.store.call('searchPatients', { query: 'anyone' });
    const closed = await o.store.closeAndCheck();
    assert.ok((await queued).patients, 'a call sent before close is answered');
    assert.equal(closed.keyZeroed, true);
    assert.equal(o.store.closed, true);
    await rejectsWith(o.store.call('searchPatients', { query: 'anyone' }), 'STORE_CLOSED');
    await rejectsWith(o.store.call('openChart', { patientId: 'x' }), 'STORE_CLOSED');
    await rejectsWith(o.store.call('appendAudit', { records: [{ action: 'E', subtype: 'search-type', patientId: null, entities: [], query: null, outcome: '0' }] }), 'STORE_CLOSED');
  } finally {
    await o.dispose();
  }
});

test('the worker itself zeroes the key it was given at close and refuses every call after it', async () => {
  const { cache, hostOpen } = await closedTestCache(ACTOR);
  try {
    const { key, open } = hostOpen();
    const host = new StoreHost();
    assert.equal(host.handle({ id: 1, call: 'open', args: open }).ok, true);
    assert.equal(host.handle({ id: 2, call: 'auditHead', args: {} }).ok, true);
    assert.ok(new Uint8Array(key).some((b) => b !== 0), 'held while open');
    const closed = host.handle({ id: 3, call: 'close', args: { signHead: true } });
    assert.deepEqual(closed.ok && closed.value, { keyZeroed: true });
    assert.ok(new Uint8Array(key).every((b) => b === 0), 'the very bytes it was sent are zero');
    for (const [i, call, args] of [[4, 'auditHead', {}], [5, 'openChart', { patientId: 'x' }], [6, 'open', open]] as const) {
      const reply = host.handle({ id: i, call, args });
      assert.deepEqual(reply.ok ? null : reply.error.code, 'STORE_CLOSED', call);
    }
  } finally {
    await cache.dispose();
  }
});

test('junk messages to the worker get typed errors and change nothing; the store answers after them', async () => {
  const o = await openStore();
  try {
    const before = auditCount(o.db);
    const junk: unknown[] = [
      'DROP TABLE audit_log',
      null,
      42,
      { id: 'one', call: 'auditHead', args: {} },
      { id: 7, call: 'dropEverything', args: {} },
      { id: 8, call: 'openChart', args: { patientId: 5 } },
      { id: 9, call: 'openChart', args: { patientId: 'p', sql: 'DELETE FROM resources' } },
      { id: 10, call: 'searchPatients', args: { query: 'x' }, extra: true },
      { id: 11, call: 'appendAudit', args: { records: [{ action: 'X', subtype: 'read', patientId: null, entities: [], query: null, outcome: '0' }] } },
      { id: 12, call: 'open', args: { file: '/tmp/other.db', key: new ArrayBuffer(32) } },
      { id: 13, call: 'close', args: { signHead: 'yes' } },
      { id: 14, call: '__proto__', args: {} },
      { id: 15, call: 'constructor', args: {} },
    ];
    for (const message of junk) {
      const reply = await o.store.sendRaw(message);
      assert.equal(reply.ok, false, JSON.stringify(message));
      if (!reply.ok) {
        assert.equal(reply.error.code, 'INVALID_INPUT', JSON.stringify(message));
        assert.doesNotMatch(reply.error.message, /DROP|dropEverything|DELETE|other\.db/, 'no part of the message is echoed');
      }
      const id = (message as { id?: unknown } | null)?.id;
      assert.equal(reply.id, typeof id === 'number' ? id : null);
    }
    assert.equal(auditCount(o.db), before);
    assert.equal(o.store.closed, false);
    assert.equal((await o.store.call('auditHead', {}))?.seq ?? 0, before);
    assert.deepEqual(await o.store.call('openChart', { patientId: 'after-junk' }), { found: false });
    assert.equal(auditCount(o.db), before + 1);
  } finally {
    await o.dispose();
  }
});

test('the caller\'s key buffer is zeroed once the worker has opened the cache, and a wrong key is a typed refusal', async () => {
  const { cache, profileId, databaseFile, keys } = await closedTestCache(ACTOR);
  try {
    const wrong = Buffer.alloc(32, 7);
    await rejectsWith(
      openWorkerStore({ file: databaseFile, key: wrong, signingKey: keys.signingKey, publicKey: keys.publicKey, context: { actor: ACTOR, deviceId: profileId, purpose: 'TREAT' }, create: false }),
      'CACHE_KEY_WRONG',
    );
    assert.ok(wrong.every((b) => b === 0), 'zeroed after a refused open too');
    const store = await openWorkerStore({ file: databaseFile, key: keys.cacheKey, signingKey: keys.signingKey, publicKey: keys.publicKey, context: { actor: ACTOR, deviceId: profileId, purpose: 'TREAT' }, create: false });
    assert.ok(keys.cacheKey.every((b) => b === 0));
    await store.close();
  } finally {
    await cache.dispose();
  }
});

/** Opens a closed test cache's store in the given worker module and checks it answers, refuses junk and zeroes the key on close. */
async function answersFrom(workerFile: (dir: string) => string): Promise<void> {
  // Beside node_modules, as dist/electron is in the app: the bundle keeps its native modules external.
  const outDir = join(process.cwd(), 'node_modules', '.cache', 'clinician-tests', `store-bundle-${process.pid}`);
  const { cache, profileId, databaseFile, keys } = await closedTestCache(ACTOR);
  try {
    const store = await openWorkerStore({
      file: databaseFile,
      key: keys.cacheKey,
      signingKey: keys.signingKey,
      publicKey: keys.publicKey,
      context: { actor: ACTOR, deviceId: profileId, purpose: 'TREAT' },
      create: false,
      workerFile: workerFile(outDir),
    });
    assert.deepEqual(await store.call('openChart', { patientId: 'from-bundle' }), { found: false });
    const junk = await store.sendRaw({ id: 99, call: 'nothing', args: {} });
    assert.deepEqual(junk.ok ? null : junk.error.code, 'INVALID_INPUT');
    assert.equal((await store.closeAndCheck()).keyZeroed, true);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    await cache.dispose();
  }
}

test('the worker loads from the Electron bundle (build/bundle-electron.mjs) and answers there', async () => {
  await answersFrom((outDir) => {
    execFileSync(process.execPath, ['build/bundle-electron.mjs'], { env: { ...process.env, CLINICIAN_ELECTRON_OUTDIR: outDir }, stdio: 'pipe' });
    return join(outDir, 'cache-store-worker.cjs');
  });
});

test('the worker runs from its TypeScript source under tsx (the command line without a bundle) and answers there as well', async () => {
  await answersFrom(() => join(ROOT, 'electron', 'services', 'store', 'store-worker.ts'));
});
