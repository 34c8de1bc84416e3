/**
 * A crash that loses the WAL, against a real backend (SQLite and
 * PostgreSQL), a real encrypted cache file and the real keychain: a child process
 * does audited work and uploads it, with the later part of it committed to
 * the WAL only (automatic checkpoints off after a checkpoint), is killed with
 * SIGKILL, and the test deletes cache.db-wal. The cache reopens with the
 * commits before the checkpoint only; the keychain's receipt names an entry
 * the chain no longer holds, so the rollback is said at open
 * (CACHE_ROLLED_BACK), the clinician keeps working, and the next upload
 * continues from the backend's last accepted entry behind a flagged,
 * signed rollback entry; both chains verify and agree. A SIGKILL that keeps
 * the WAL raises no alarm.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCanonicalAuditEntry, rollbackFacts } from '../shared/audit-entry';
import { verifyCache } from '../electron/services/cache-maintenance';
import { rollbackNotice, ROLLBACK_REPORTED_MESSAGE } from '../electron/services/rollback-guard';
import { ROOT } from './support/cache-cli';
import type { CacheDatabase } from '../electron/services/cache-database';
import { inspectCache } from './support/cache-inspect';
import { appChildArgs } from './support/bundled-entry';
import { CLINICIAN, auditVerify, backendChain, startRollbackRig, work, type RollbackRig } from './support/rollback-backend';

const CHILD = join(ROOT, 'test', 'support', 'wal-loss-child.ts');

/** The last seq of the chain in the cache file, read through the test's own connection (0: an empty log). */
const localHead = (db: CacheDatabase): number => (db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number | null) ?? 0;

/** Runs the child until it reports, then kills it with SIGKILL; returns its report. */
async function runChildAndKill(rig: RollbackRig): Promise<{ checkpointed: number; uploaded: number; written: number }> {
  const child = spawn(process.execPath, appChildArgs(CHILD), {
    cwd: ROOT,
    env: {
      ...process.env,
      WAL_CHILD_DATA_DIR: rig.dataDir,
      WAL_CHILD_KEYCHAIN_SERVICE: rig.keychain.service,
      WAL_CHILD_ACTOR: CLINICIAN,
      WAL_CHILD_TOKEN: rig.token,
      WAL_CHILD_BACKEND_URL: rig.url,
      WAL_CHILD_PATIENTS: rig.patients.join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const report = await new Promise<{ checkpointed: number; uploaded: number; written: number }>((resolve, reject) => {
    // A child that never reports (stuck on its backend or keychain) fails the test instead of holding it.
    const timer = setTimeout(() => reject(new Error(`child did not report in 120 s: ${err}`)), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { checkpointed: number; uploaded: number; written: number });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited ${code}: ${err}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return report;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`lost WAL after SIGKILL, backend on ${engine}`, () => {
    let rig: RollbackRig;
    before(async () => {
      rig = await startRollbackRig(engine, `wal-${engine}`);
    });
    after(async () => {
      await rig?.dispose();
    });

    test('SIGKILL with the WAL kept is no rollback: no alarm, nothing re-chained', { timeout: 120_000 }, async () => {
      const report = await runChildAndKill(rig);
      const session = await rig.open();
      try {
        const db = await inspectCache(session, rig.keychain);
        assert.equal(localHead(db), report.written, 'a crash loses nothing committed');
        assert.equal(await rollbackNotice(session), null);
        assert.equal((await verifyCache(session)).ok, true);
        await rig.upload(session);
        assert.equal(await rollbackNotice(session), null);
        const backend = await backendChain(rig, session.context.deviceId);
        assert.deepEqual(backend.rollbacks, []);
        assert.equal(backend.entries, localHead(db));
      } finally {
        await session.close();
      }
    });

    test('the WAL deleted after SIGKILL: said at open, the chain continues from the backend, uploaded, flagged and whole', { timeout: 120_000 }, async () => {
      const report = await runChildAndKill(rig);
      assert.ok(report.checkpointed < report.uploaded && report.uploaded < report.written, JSON.stringify(report));

      const wal = join(rig.dataDir, 'cache.db-wal');
      assert.ok(existsSync(wal) && statSync(wal).size > 0, 'the later commits are in the WAL');
      rmSync(wal);

      const session = await rig.open();
      try {
        const db = await inspectCache(session, rig.keychain);
        assert.equal(localHead(db), report.checkpointed, 'only the commits before the checkpoint survived');
        const notice = await rollbackNotice(session);
        assert.equal(notice?.code, 'CACHE_ROLLED_BACK', 'said at open');
        // verify no longer passes while commits the backend vouched for are missing.
        assert.deepEqual((await verifyCache(session)).firstBad, { seq: report.uploaded, problem: 'receipt-mismatch' });

        await work(session, rig.patients, 5, 'after-wal-loss');
        const receipt = await rig.upload(session);
        const rollbackSeq = report.uploaded + 1;
        const rollback = parseCanonicalAuditEntry(db.prepare('SELECT entry FROM audit_log WHERE seq = ?').pluck().get(rollbackSeq) as string)!;
        const facts = rollbackFacts(rollback)!;
        assert.equal(facts.backendSeq, report.uploaded, 'continues from the backend\'s last accepted entry');
        assert.equal(facts.keptSeq, report.checkpointed);
        assert.equal(facts.rechained, localHead(db) - rollbackSeq);
        assert.equal(receipt?.seq, localHead(db), 'everything reached the backend');

        const backend = await backendChain(rig, session.context.deviceId);
        assert.equal(backend.ok, true, 'the backend chain verifies');
        assert.equal(backend.entries, localHead(db));
        for (const row of db.prepare('SELECT seq, hash FROM audit_log').all() as Array<{ seq: number; hash: string }>) {
          assert.equal(backend.hashes.get(row.seq), row.hash, `entry ${row.seq} is the same on both sides`);
        }
        assert.deepEqual(backend.rollbacks, [rollbackSeq], 'flagged for review');
        const verified = auditVerify(rig);
        assert.equal(verified.status, 0, verified.stdout);
        assert.match(verified.stdout, /device audit chains whole: 1 devices/);
        assert.equal(rig.securityLines.filter((l) => l.includes('"audit-rollback-detected"')).length, 1);
        assert.equal((await verifyCache(session)).ok, true);
        assert.equal((await rollbackNotice(session))?.message, ROLLBACK_REPORTED_MESSAGE);
      } finally {
        await session.close();
      }
    });
  });
}
