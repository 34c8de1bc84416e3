/**
 * The cache store's break-the-glass, export, print, maintenance and backup
 * calls, driven directly through its worker thread over a real encrypted
 * file whose key comes from the real keychain (as test/cache-store.test.ts).
 * Each call is one transaction with its audit entries: a grant and its
 * break-glass entry commit together or not at all; print's chart read, its
 * read entries and its print entries likewise; an ended grant's patient
 * leaves with its removal entry; a slice of granted records moves the
 * records cursor only with the page's last slice; `backupTo` (outside a
 * transaction, where the key is) writes a copy that opens with the same key
 * and holds the same rows. Faults are real: a trigger another connection
 * installs refuses the entries a call writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMERGENCY_PURPOSE } from '../shared/audit-entry';
import { storedEntry, verifyAuditChain } from '../electron/services/audit-chain';
import { openCacheDatabase } from '../electron/services/cache-database';
import { scratchDir } from './support/scratch';
import { auditCount, bundleResources, openWorkerTestStore, refuseAuditEntriesNaming, rejectsWith, resourceCount } from './support/worker-store';

const ACTOR = 'dr.glassstore';

const openStore = () => openWorkerTestStore({ actor: ACTOR, actorName: 'Dr Glass', network: 'online' });

const iso = (ms: number) => new Date(ms).toISOString();

function grantFor(patientId: string, now = Date.now()) {
  return {
    grant: { patientId, grantedAt: iso(now), expiresAt: iso(now + 15 * 60_000), reasonCode: 'emergency-treatment' },
    entry: { entities: ['urn:test:reason:emergency-treatment'], query: 'unconscious, no relatives' },
  };
}

test('a grant and its break-glass entry commit together or not at all; the entry and later ones carry the emergency purpose', async () => {
  const o = await openStore();
  try {
    await o.store.call('importResources', { resources: bundleResources('glass-p1', 3) });
    refuseAuditEntriesNaming(o.db, 'unconscious, no relatives');
    const before = auditCount(o.db);
    const err = await rejectsWith(o.store.call('storeGrant', grantFor('glass-p1')), 'INTERNAL');
    assert.doesNotMatch(err.message, /refused by the test|unconscious/, 'no SQLite text or PHI crosses');
    assert.equal(o.db.prepare('SELECT count(*) FROM glass_grants').pluck().get(), 0, 'no grant without its entry');
    assert.equal(auditCount(o.db), before, 'no entry');
    assert.deepEqual(await o.store.call('activeGrants', { now: iso(Date.now()) }), []);

    o.db.exec('DROP TRIGGER test_refuse_audit');
    const { seq } = await o.store.call('storeGrant', grantFor('glass-p1'));
    const row = o.db.prepare('SELECT action, subtype, purpose, patient_id AS patientId FROM audit_log WHERE seq = ?').get(seq);
    assert.deepEqual(row, { action: 'E', subtype: 'break-glass', purpose: EMERGENCY_PURPOSE, patientId: 'glass-p1' }, 'the grant is stored first, so its own entry is ETREAT');
    const active = await o.store.call('activeGrants', { now: iso(Date.now()) });
    assert.deepEqual(active.map((g) => [g.patientId, g.reasonCode, g.endedAt]), [['glass-p1', 'emergency-treatment', null]]);
    await o.store.call('openChart', { patientId: 'glass-p1' });
    assert.equal(o.db.prepare("SELECT purpose FROM audit_log WHERE patient_id = 'glass-p1' AND action = 'R' ORDER BY seq DESC LIMIT 1").pluck().get(), EMERGENCY_PURPOSE);
    assert.equal(verifyAuditChain(o.db, o.keys.publicKey, o.deviceId).ok, true);
  } finally {
    await o.dispose();
  }
});

test('granted records arriving after the grant ended are refused (GLASS_REFUSED) and write nothing: no record of that patient stays behind', async () => {
  const o = await openStore();
  try {
    const now = Date.now();
    await o.store.call('storeGrant', grantFor('glass-late', now));
    const patient = { resourceType: 'Patient', id: 'glass-late', meta: { versionId: '3' }, name: [{ family: 'Late' }] };
    const obs = { resourceType: 'Observation', id: 'glass-late-o1', meta: { versionId: '4' }, status: 'final', subject: { reference: 'Patient/glass-late' }, code: { text: 'Pulse' } };
    await o.store.call('applyGlassRecords', { patientId: 'glass-late', resources: [patient], cursor: '4/Observation/glass-late-o1', last: false, now: iso(now + 10) });
    assert.equal(resourceCount(o.db, 'glass-late'), 1, 'the first slice, inside the grant, is written');
    // The grant ends (main's monotonic clock says so) between two slices of the same page.
    const over = await o.store.call('checkGrants', { now: iso(now + 20), over: ['glass-late'] });
    assert.deepEqual(over.removed, { 'glass-late': 'removed' });
    const before = auditCount(o.db);
    await rejectsWith(o.store.call('applyGlassRecords', { patientId: 'glass-late', resources: [obs], cursor: '4/Observation/glass-late-o1', last: true, now: iso(now + 30) }), 'GLASS_REFUSED');
    assert.equal(o.db.prepare("SELECT count(*) FROM resources WHERE patient_id = 'glass-late' OR id = 'glass-late'").pluck().get(), 0, 'nothing of the patient is left in the cache');
    assert.equal(auditCount(o.db), before, 'nothing written, nothing audited');
    // A grant that expired by the wall clock refuses the same way, even before any check ran.
    await o.store.call('storeGrant', { ...grantFor('glass-old', now), grant: { ...grantFor('glass-old', now).grant, expiresAt: iso(now + 1000) } });
    await rejectsWith(o.store.call('applyGlassRecords', { patientId: 'glass-old', resources: [{ ...patient, id: 'glass-old' }], cursor: null, last: true, now: iso(now + 2000) }), 'GLASS_REFUSED');
    assert.equal(resourceCount(o.db, 'glass-old'), 0);
  } finally {
    await o.dispose();
  }
});

test('checkGrants ends a grant over on the monotonic clock or the wall clock and removes its patient with a removal entry; records slices move the cursor only with the last', async () => {
  const o = await openStore();
  try {
    await o.store.call('importResources', { resources: bundleResources('glass-mono', 2) });
    await o.store.call('importResources', { resources: bundleResources('glass-wall', 2) });
    const now = Date.now();
    await o.store.call('storeGrant', grantFor('glass-mono', now));
    await o.store.call('storeGrant', { ...grantFor('glass-wall', now), grant: { ...grantFor('glass-wall', now).grant, expiresAt: iso(now + 1000) } });

    // Granted records, page by page: the cursor moves with the page's last slice only.
    const patient = { resourceType: 'Patient', id: 'glass-mono', meta: { versionId: '7' }, name: [{ family: 'Mono' }] };
    const obs = { resourceType: 'Observation', id: 'glass-mono-o9', meta: { versionId: '8' }, status: 'final', subject: { reference: 'Patient/glass-mono' }, code: { text: 'Pulse' } };
    assert.equal(await o.store.call('recordsCursor', { patientId: 'glass-mono' }), null);
    const first = await o.store.call('applyGlassRecords', { patientId: 'glass-mono', resources: [patient], cursor: '8/Observation/glass-mono-o9', last: false, now: iso(now + 10) });
    assert.equal(first.written, 1);
    assert.equal(await o.store.call('recordsCursor', { patientId: 'glass-mono' }), null, 'not moved by a slice that is not the last');
    await o.store.call('applyGlassRecords', { patientId: 'glass-mono', resources: [obs], cursor: '8/Observation/glass-mono-o9', last: true, now: iso(now + 10) });
    assert.equal(await o.store.call('recordsCursor', { patientId: 'glass-mono' }), '8/Observation/glass-mono-o9');
    assert.equal(o.db.prepare("SELECT count(*) FROM resources WHERE id = 'glass-mono-o9'").pluck().get(), 1);

    const before = auditCount(o.db);
    const still = await o.store.call('checkGrants', { now: iso(now + 500), over: [] });
    assert.deepEqual(still.active.map((g) => g.patientId).sort(), ['glass-mono', 'glass-wall']);
    assert.deepEqual(still.removed, {});
    assert.equal(auditCount(o.db), before, 'nothing to do writes nothing');

    const over = await o.store.call('checkGrants', { now: iso(now + 2000), over: ['glass-mono'] });
    assert.deepEqual(over.active, []);
    assert.deepEqual(over.removed, { 'glass-mono': 'removed', 'glass-wall': 'removed' });
    assert.equal(resourceCount(o.db, 'glass-mono'), 0);
    assert.equal(resourceCount(o.db, 'glass-wall'), 0);
    assert.equal(o.db.prepare('SELECT count(*) FROM glass_grants').pluck().get(), 0);
    const removals = (o.db.prepare("SELECT entry FROM audit_log WHERE seq > ? AND action = 'D'").all(before) as Array<{ entry: string }>).map(storedEntry);
    assert.deepEqual(removals.map((e) => e.patientId).sort(), ['glass-mono', 'glass-wall'], 'each removal audited in the same call');
  } finally {
    await o.dispose();
  }
});

test('preparePrint reads the chart and writes its read and print entries in one transaction: a failing print entry leaves no read entry either', async () => {
  const o = await openStore();
  try {
    await o.store.call('importResources', { resources: bundleResources('print-p1', 4) });
    refuseAuditEntriesNaming(o.db, 'print-refuse-marker');
    const before = auditCount(o.db);
    await rejectsWith(o.store.call('preparePrint', { patientId: 'print-p1', output: 'printer', reasonCode: 'continuity-of-care', query: 'print-refuse-marker' }), 'INTERNAL');
    assert.equal(auditCount(o.db), before, "chart.open's read entry rolled back with the print entry");
    o.db.exec('DROP TRIGGER test_refuse_audit');

    const answer = await o.store.call('preparePrint', { patientId: 'print-p1', output: 'printer', reasonCode: 'continuity-of-care', query: 'for the ward round' });
    assert.ok(answer.found);
    assert.equal(answer.chart.groups.Observation?.total, 4);
    const written = (o.db.prepare('SELECT entry FROM audit_log WHERE seq > ? ORDER BY seq').all(before) as Array<{ entry: string }>).map(storedEntry);
    assert.deepEqual(written.map((e) => [e.action, e.subtype, e.outcome]), [['R', 'read', '0'], ['R', 'print', '0']]);
    const printed = written[1]!;
    assert.equal(printed.query, 'for the ward round');
    assert.ok(printed.entities.includes('Patient/print-p1'));
    assert.equal(printed.entities.filter((e) => e.startsWith('Observation/')).length, 4, 'the print entry names what was read');

    const refusedBefore = auditCount(o.db);
    assert.deepEqual(await o.store.call('preparePrint', { patientId: 'not-here', output: 'pdf', reasonCode: 'continuity-of-care', query: null }), { found: false });
    const refused = (o.db.prepare('SELECT entry FROM audit_log WHERE seq > ?').all(refusedBefore) as Array<{ entry: string }>).map(storedEntry);
    assert.deepEqual(refused.map((e) => [e.subtype, e.outcome, e.patientId]), [['print', '4', 'not-here']], 'a refusal, audited, nothing read');

    const summary = await o.store.call('exportSummary', { patientId: 'print-p1', author: { actor: ACTOR, name: 'Dr Glass' }, now: iso(Date.now()), reasonCode: 'continuity-of-care', query: null });
    assert.ok(summary.found);
    assert.equal((summary.bundle as { type?: string }).type, 'document');
    assert.equal(o.db.prepare("SELECT subtype FROM audit_log ORDER BY seq DESC LIMIT 1").pluck().get(), 'export');
  } finally {
    await o.dispose();
  }
});

test('the command line reads through the store: stats with its export entry in the same call, the audit export bounded by its own entry, page by page', async () => {
  const o = await openStore();
  try {
    await o.store.call('importResources', { resources: bundleResources('stats-p1', 2) });
    const plain = await o.store.call('cacheStats', { audit: null });
    assert.equal(plain.patients, 1);
    assert.equal(plain.auditEntries, auditCount(o.db), 'no entry for the unaudited count');
    const audited = await o.store.call('cacheStats', { audit: { query: 'stats --reason test' } });
    assert.equal(audited.auditEntries, plain.auditEntries + 1, 'its entry is counted: written in the same transaction, first');
    const { seq } = await o.store.call('startAuditExport', { query: null });
    await o.store.call('appendAudit', { records: [{ action: 'E', subtype: 'consult-end', patientId: null, entities: [], query: null, outcome: '0' }] });
    const first = await o.store.call('auditEventsPage', { afterSeq: 0, beforeSeq: seq, limit: 2 });
    const rest = await o.store.call('auditEventsPage', { afterSeq: first.at(-1)!.seq, beforeSeq: seq, limit: 10_000 });
    assert.deepEqual([...first, ...rest].map((p) => p.seq), Array.from({ length: seq - 1 }, (_, i) => i + 1), 'every entry before its own, none after');
    assert.equal((first[0]!.event as { resourceType?: string }).resourceType, 'AuditEvent');
    assert.equal(await o.store.call('integrityCheck', {}), null);
  } finally {
    await o.dispose();
  }
});

test('backupTo writes, outside a transaction, a copy that opens with the same key and holds the same rows; a file it may not replace is refused', async () => {
  const o = await openStore();
  const dir = scratchDir('store-backup');
  try {
    await o.store.call('importResources', { resources: bundleResources('backup-p1', 6) });
    await o.store.call('storeGrant', grantFor('backup-p1'));
    const out = join(dir.path, 'copy.db');
    const { bytes } = await o.store.call('backupTo', { file: out });
    assert.equal(bytes, statSync(out).size);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir.path), ['copy.db'], 'no temp file left');
    const copy = openCacheDatabase(out, Buffer.from(o.keys.cacheKey), { create: false, readonly: true });
    try {
      for (const sql of ['SELECT count(*) FROM resources', 'SELECT count(*) FROM audit_log', 'SELECT max(hash) FROM audit_log', 'SELECT count(*) FROM glass_grants']) {
        assert.equal(copy.prepare(sql).pluck().get(), o.db.prepare(sql).pluck().get(), sql);
      }
      assert.equal(verifyAuditChain(copy, o.keys.publicKey, o.deviceId).ok, true, 'the copied chain verifies');
    } finally {
      copy.close();
    }
    assert.throws(() => openCacheDatabase(out, Buffer.alloc(32, 7), { create: false, readonly: true }), 'still encrypted: another key does not open it');
    // Replacing a backup of this cache is fine; a file that is not one is refused and left as it was.
    await o.store.call('backupTo', { file: out });
    const other = join(dir.path, 'notes.txt');
    writeFileSync(other, 'not a backup');
    await rejectsWith(o.store.call('backupTo', { file: other }), 'INVALID_INPUT');
    assert.equal(readFileSync(other, 'utf8'), 'not a backup');
    assert.ok(existsSync(out));
    // The store goes on after it.
    assert.ok((await o.store.call('openChart', { patientId: 'backup-p1' })).found);
  } finally {
    dir.remove();
    await o.dispose();
  }
});
