/**
 * Tamper evidence: an edited, deleted, reordered or inserted audit row
 * (written with the right key, by raw SQL) and a truncated chain are each
 * caught by verify, which names the first bad entry; a flipped byte in the
 * database file is caught too. Entries export as BALP AuditEvents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { openChart, searchPatients } from '../electron/services/patient-records';
import { verifyAuditChain, chainHash, linkHash, storedEntry, SIGN_EVERY_ENTRIES, type StoredAuditEntry } from '../electron/services/audit-chain';
import { canonicalAuditEntry } from '../shared/audit-entry';
import { auditEventList, verifyCache } from '../electron/services/cache-maintenance';
import { openCacheSession } from '../electron/services/cache-session';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { runCli } from './support/cache-cli';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patients = loadFixturePatients();

/** A cache with a few hundred audit entries and signed heads along the way. */
async function busyCache(): Promise<TestCache> {
  const cache = await openTestCache();
  for (const file of SYNTHEA_FILES) await importBundle(cache.session, readFileSync(file));
  for (let i = 0; i < 300; i++) await openChart(cache.session, patients[i % 3]!.id);
  await searchPatients(cache.session, patients[0]!.family);
  await cache.reopen();
  return cache;
}

/** Verifies the chain in the cache file through the test's own connection. */
async function verify(cache: TestCache) {
  const s = cache.session;
  return verifyAuditChain(await cache.db(), s.keys.publicKey, s.context.deviceId);
}

test('a busy chain verifies whole, with its head signed', async () => {
  const cache = await busyCache();
  try {
    const r = await verify(cache);
    assert.equal(r.ok, true);
    // Each import writes two entries: its patient's, and one naming the resources without a patient (Organization, Practitioner).
    assert.equal(r.entries, 307);
    assert.equal(r.lastSignedSeq, 307, 'closing signs the head');
    assert.equal(r.unsignedTail, 0);
    const heads = (await cache.db()).prepare('SELECT count(*) FROM audit_heads').pluck().get() as number;
    assert.ok(heads >= Math.floor(300 / SIGN_EVERY_ENTRIES) + 1);
  } finally {
    await cache.dispose();
  }
});

const tamperings: Array<[string, string, number, string]> = [
  ['an edited row', "UPDATE audit_log SET entry = replace(entry, '\"test-clinician\"', '\"someone-else\"') WHERE seq = 120", 120, 'hash-mismatch'],
  ['an edited outcome', "UPDATE audit_log SET entry = json_set(entry, '$[9]', '4') WHERE seq = 7", 7, 'hash-mismatch'],
  ['an entry copied over another', 'UPDATE audit_log SET entry = (SELECT entry FROM audit_log WHERE seq = 11) WHERE seq = 12', 12, 'hash-mismatch'],
  ['a deleted row', 'DELETE FROM audit_log WHERE seq = 57', 58, 'sequence-gap'],
  [
    'two rows swapped (reordered)',
    `UPDATE audit_log SET
       entry = CASE seq WHEN 30 THEN (SELECT entry FROM audit_log WHERE seq = 31) ELSE (SELECT entry FROM audit_log WHERE seq = 30) END,
       hash = CASE seq WHEN 30 THEN (SELECT hash FROM audit_log WHERE seq = 31) ELSE (SELECT hash FROM audit_log WHERE seq = 30) END,
       prev_hash = CASE seq WHEN 30 THEN (SELECT prev_hash FROM audit_log WHERE seq = 31) ELSE (SELECT prev_hash FROM audit_log WHERE seq = 30) END
     WHERE seq IN (30, 31)`,
    30,
    'broken-link',
  ],
  ['the whole tail removed with its signed heads kept', 'DELETE FROM audit_log WHERE seq > 200', 201, 'truncated'],
  ['a forged signature', "UPDATE audit_heads SET signature = (SELECT signature FROM audit_heads ORDER BY seq LIMIT 1) WHERE seq = (SELECT max(seq) FROM audit_heads)", 307, 'bad-head-signature'],
];

for (const [name, sql, seq, problem] of tamperings) {
  test(`verify catches ${name} and names entry ${seq}`, async () => {
    const cache = await busyCache();
    try {
      (await cache.db()).exec(sql);
      assert.deepEqual((await verify(cache)).firstBad, { seq, problem });
    } finally {
      await cache.dispose();
    }
  });
}

test('verify catches a row inserted into the middle, even one chained correctly from its predecessor', async () => {
  const cache = await busyCache();
  try {
    const db = await cache.db();
    // Shift entries 100.. up by one (from the top, to keep the key unique), then forge entry 100.
    db.exec('UPDATE audit_log SET seq = -seq WHERE seq >= 100; UPDATE audit_log SET seq = 1 - seq WHERE seq < 0');
    const prev = storedEntry(db.prepare('SELECT entry FROM audit_log WHERE seq = 99').get() as StoredAuditEntry);
    const prevHash = db.prepare('SELECT hash FROM audit_log WHERE seq = 99').pluck().get() as string;
    const forged = { ...prev, seq: 100, actor: 'forger' };
    db.prepare('INSERT INTO audit_log (seq, entry, prev_hash, hash) VALUES (100, ?, ?, ?)').run(canonicalAuditEntry(forged), prevHash, chainHash(prevHash, forged));
    assert.equal(db.prepare('SELECT actor FROM audit_log WHERE seq = 100').pluck().get(), 'forger');
    assert.deepEqual((await verify(cache)).firstBad, { seq: 101, problem: 'broken-link' });
  } finally {
    await cache.dispose();
  }
});

test('the verify command exits non-zero naming the first bad entry, and 0 on a whole chain', async () => {
  const cache = await busyCache();
  try {
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: cache.keychain.service };
    await cache.session.close();
    const whole = runCli(['verify', '--data-dir', cache.dataDir], env);
    assert.equal(whole.status, 0, whole.stderr);
    assert.equal(JSON.parse(whole.stdout).ok, true);
    const s = await cache.reopen();
    (await cache.db()).exec("UPDATE audit_log SET entry = json_set(entry, '$[11]', 'HMARKT') WHERE seq = 42");
    await s.close();
    const bad = runCli(['verify', '--data-dir', cache.dataDir], env);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Audit entry 42 is bad/);
    assert.deepEqual(JSON.parse(bad.stdout).firstBad, { seq: 42, problem: 'hash-mismatch' });
    await cache.reopen();
  } finally {
    await cache.dispose();
  }
});

test('a flipped byte anywhere in the database file is detected', async () => {
  const cache = await busyCache();
  try {
    await cache.session.close();
    const file = join(cache.dataDir, 'cache.db');
    const size = statSync(file).size;
    const pageSize = 4096;
    // The header page, a page in the middle, and the last page.
    for (const offset of [100, Math.floor(size / pageSize / 2) * pageSize + 1500, size - 200]) {
      const fd = openSync(file, 'r+');
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, offset);
      writeSync(fd, Buffer.from([byte[0]! ^ 0x01]), 0, 1, offset);
      closeSync(fd);
      await assert.rejects(
        (async () => {
          const s = await openCacheSession({ dataDir: cache.dataDir, secrets: cache.keychain, actor: 'test', create: false });
          try {
            await verifyCache(s);
          } finally {
            await s.close();
          }
        })(),
        (e: unknown) => e instanceof AppError && (e.code === 'CACHE_CORRUPT' || e.code === 'CACHE_KEY_WRONG'),
        `offset ${offset}`,
      );
      const fd2 = openSync(file, 'r+');
      writeSync(fd2, byte, 0, 1, offset);
      closeSync(fd2);
    }
    await cache.reopen();
    await assert.doesNotReject(verifyCache(cache.session), 'restored file verifies again');
  } finally {
    await cache.dispose();
  }
});

test('entries export as FHIR R4 AuditEvents following IHE BALP', async () => {
  const cache = await busyCache();
  try {
    const events = (await auditEventList(cache.session));
    assert.equal(events.length, 307);
    const create = events[0] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(create.resourceType, 'AuditEvent');
    assert.deepEqual(create.type, { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' });
    assert.equal(create.action, 'C');
    assert.equal(create.subtype[0].code, 'create');
    assert.equal(create.agent[0].type.coding[0].code, 'AUT');
    assert.equal(create.agent[1].type.coding[0].code, '110153');
    const read = events[6] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(read.action, 'R');
    assert.equal(read.agent[0].requestor, true);
    assert.equal(read.agent[0].type.coding[0].code, 'IRCP');
    assert.equal(read.agent[1].type.coding[0].code, '110152');
    assert.equal(read.agent[2].type.coding[0].code, '110153');
    assert.deepEqual(read.entity[0].role, { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' });
    assert.equal(read.entity[0].what.reference, `Patient/${patients[0]!.id}`);
    assert.equal(read.outcome, '0');
    assert.ok(read.source.observer.identifier.value);
    const search = events.at(-1) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(search.action, 'E');
    const query = search.entity.find((e: { role: { code: string } }) => e.role.code === '24');
    assert.equal(Buffer.from(query.query, 'base64').toString('utf8'), patients[0]!.family);
  } finally {
    await cache.dispose();
  }
});

test('a chain written in the older v1 form (before the network field) still verifies, exports, and continues in v2', async () => {
  const cache = await openTestCache();
  try {
    await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
    for (let i = 0; i < 5; i++) await openChart(cache.session, patients[0]!.id);
    const db = await cache.db();
    // Rewrite every entry as v1 would have stored it, rechained, and vouch for the head again.
    const rows = db.prepare('SELECT seq, entry FROM audit_log ORDER BY seq').all() as Array<{ seq: number; entry: string }>;
    let prevHash = '0'.repeat(64);
    db.transaction(() => {
      for (const row of rows) {
        const fields = JSON.parse(row.entry) as unknown[];
        assert.equal(fields[0], 'audit-entry/v2');
        const v1 = JSON.stringify(['audit-entry/v1', ...fields.slice(1, 12)]);
        const hash = linkHash(prevHash, v1);
        db.prepare('UPDATE audit_log SET entry = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(v1, prevHash, hash, row.seq);
        prevHash = hash;
      }
      db.exec('DELETE FROM audit_heads');
    })();
    // The device vouches for the rewritten head again (the worker's chain signs what the file holds).
    await cache.session.store.call('signHead', { force: true });
    assert.equal((await verify(cache)).ok, true);
    assert.equal(storedEntry(db.prepare('SELECT entry FROM audit_log WHERE seq = 1').get() as StoredAuditEntry).network, null, 'a v1 entry reads with network unknown');
    await openChart(cache.session, patients[0]!.id);
    const last = db.prepare('SELECT entry FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get() as string;
    assert.ok(last.startsWith('["audit-entry/v2",'), 'new entries are v2');
    assert.equal((await verify(cache)).ok, true, 'the mixed chain verifies');
    assert.equal((await auditEventList(cache.session)).length, rows.length + 1);
  } finally {
    await cache.dispose();
  }
});
