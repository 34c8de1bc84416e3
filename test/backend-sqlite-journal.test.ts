/**
 * The reference backend's SQLite journal (server/database.ts): each commit is
 * flushed before its answer goes out (synchronous FULL), and commits leave
 * up to SQLITE_WAL_CHECKPOINT_PAGES pages in backend.db-wal before one of
 * them checkpoints (SQLite's default of 1,000 copied the same index pages
 * into the file every few pushes), and the file is cut back to
 * SQLITE_WAL_LIMIT_BYTES after. A real database file in a scratch folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { migrate, openDatabase, SQLITE_WAL_CHECKPOINT_PAGES, SQLITE_WAL_LIMIT_BYTES } from '../server/database';
import { scratchDir } from './support/scratch';

test('the backend flushes each commit (synchronous FULL), checkpoints its SQLite WAL past 10,000 pages, not SQLite\'s 1,000, and cuts the file back to its limit', async () => {
  const dir = scratchDir('backend-journal');
  const { db } = openDatabase({ dataDir: dir.path });
  try {
    await migrate(db);
    const pragma = async (name: string) => Object.values((await sql.raw<Record<string, number>>(`pragma ${name}`).execute(db)).rows[0]!)[0];
    assert.equal(await pragma('wal_autocheckpoint'), SQLITE_WAL_CHECKPOINT_PAGES);
    assert.equal(await pragma('journal_size_limit'), SQLITE_WAL_LIMIT_BYTES);
    // A commit is flushed before the push it holds is answered: the device drops what the backend said it applied.
    assert.equal(await pragma('synchronous'), 2, 'FULL');
    // About 3,000 pages of records, 60 commits: past SQLite's default, well short of ours.
    const json = JSON.stringify({ resourceType: 'Observation', note: 'x'.repeat(3_000) });
    for (let c = 0; c < 60; c++) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('resources').values(Array.from({ length: 50 }, (_, i) => ({ resource_type: 'Observation', id: `j-${c}-${i}`, patient_id: 'p', json }))).execute();
      });
    }
    const [frames] = (await sql.raw<{ busy: number; log: number; checkpointed: number }>('pragma wal_checkpoint(passive)').execute(db)).rows.map((r) => r.log);
    assert.ok(frames! > 2_000 && frames! < SQLITE_WAL_CHECKPOINT_PAGES, `the WAL holds every commit since the last checkpoint (${frames} frames)`);
  } finally {
    await db.destroy();
    dir.remove();
  }
});
