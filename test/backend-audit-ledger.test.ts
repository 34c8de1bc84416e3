/**
 * The backend's own disclosure chain (SQLite and PostgreSQL): what the
 * backend discloses is appended in the reading transaction (nothing when it
 * rolls back), as BALP AuditEvents chained like a device's entries;
 * concurrent readers append one unbroken chain; and `npm run server --
 * audit-verify` exits 0 for a whole chain and names the first bad entry of
 * an edited, deleted, inserted or reordered row or a cut-off tail.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { migrate, openDatabase, type Db } from '../server/database';
import { recordDisclosures, type Disclosure } from '../server/audit/disclosure-ledger';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import type { Caller } from '../server/auth/caller';
import { AUDIT_GENESIS_HASH } from '../shared/audit-entry';
import { ROOT } from './support/cache-cli';
import { freshPostgresDatabase } from './support/postgres';
import { scratchDir } from './support/scratch';
import { bundledEntry } from './support/bundled-entry';

const caller: Caller = { clinicianId: 'dr.ledger', deviceId: '6f1c2b0e-1111-4222-8333-944455556666', scope: 'full' };
const clock = () => new Date('2026-11-25T10:00:00.000Z');
const read = (patientId: string, ...refs: string[]): Disclosure => ({ action: 'R', subtype: 'read', patientId, entities: refs, outcome: '0', query: null });

type Row = { seq: number; recorded_at: string; patient_id: string | null; entry: string; prev_hash: string; hash: string; event: string };

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the backend's disclosure chain on ${engine}`, () => {
    const dir = scratchDir('disclosure-ledger');
    let db: Db;
    let pg: { url: string; drop(): Promise<void> } | null = null;

    before(async () => {
      pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
      ({ db } = openDatabase({ databaseUrl: pg?.url, dataDir: dir.path }));
      await migrate(db);
    });

    after(async () => {
      await db?.destroy();
      await pg?.drop();
      dir.remove();
    });

    const rows = async () => (await db.selectFrom('disclosure_events').selectAll().orderBy('seq').execute()).map((r) => ({ ...r, seq: Number(r.seq) })) as Row[];
    const head = async () => {
      const h = await db.selectFrom('disclosure_head').select(['seq', 'hash']).executeTakeFirstOrThrow();
      return { seq: Number(h.seq), hash: h.hash };
    };

    function auditVerify(): { status: number | null; stdout: string; stderr: string } {
      const r = spawnSync(process.execPath, [bundledEntry(join(ROOT, 'server', 'main.ts')), 'audit-verify', '--data-dir', dir.path], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: pg?.url ?? '' },
        encoding: 'utf8',
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    test('a read appends one AuditEvent per patient in its own transaction, chained; a rolled-back read appends nothing', async () => {
      assert.deepEqual(await head(), { seq: 0, hash: AUDIT_GENESIS_HASH });
      await db.transaction().execute(async (trx) => {
        await trx.selectFrom('resources').select('id').execute();
        await recordDisclosures(trx, caller, [read('p-1', 'Observation/o1', 'Observation/o2'), read('p-2', 'Condition/c1')], clock);
      });
      const [first, second] = await rows();
      assert.equal(first!.seq, 1);
      assert.equal(first!.prev_hash, AUDIT_GENESIS_HASH);
      assert.equal(second!.prev_hash, first!.hash);
      assert.equal(first!.patient_id, 'p-1');
      assert.equal(first!.recorded_at, clock().toISOString());
      assert.deepEqual(await head(), { seq: 2, hash: second!.hash });
      const event = JSON.parse(first!.event) as {
        action: string;
        agent: Array<{ who: { identifier: { value: string } }; network?: { address: string } }>;
        source: { observer: { identifier: { value: string } } };
        entity: Array<{ what?: { reference: string } }>;
      };
      assert.equal(event.action, 'R');
      assert.equal(event.agent[0]!.who.identifier.value, 'dr.ledger');
      assert.equal(event.agent[1]!.network?.address, `urn:uuid:${caller.deviceId}`);
      assert.equal(event.source.observer.identifier.value, 'clinician-backend');
      assert.deepEqual(event.entity.map((e) => e.what?.reference), ['Patient/p-1', 'Observation/o1', 'Observation/o2']);
      const entry = JSON.parse(first!.entry) as unknown[];
      assert.deepEqual([entry[3], entry[10], entry[11], entry[12]], ['dr.ledger', caller.deviceId, 'TREAT', 'online']);

      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await recordDisclosures(trx, caller, [read('p-3', 'Observation/o9')], clock);
          throw new Error('the read failed after auditing');
        }),
      );
      assert.equal((await rows()).length, 2, 'nothing of the rolled-back read');
      await assert.rejects(recordDisclosures(db, caller, [read('p-4')], clock), /inside the reading transaction/, 'never outside a transaction');
      assert.deepEqual(await head(), { seq: 2, hash: second!.hash });
      assert.equal((await verifyDisclosureChain(db)).ok, true);
    });

    test('concurrent reads append one unbroken chain, one event each, in commit order', async () => {
      const before = (await head()).seq;
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          db.transaction().execute(async (trx) => {
            await trx.selectFrom('resources').select('id').where('patient_id', '=', `c-${i}`).execute();
            await recordDisclosures(trx, caller, [read(`c-${i}`, `Observation/a${i}`), read(`d-${i}`, `Observation/b${i}`)], clock);
          }),
        ),
      );
      const all = await rows();
      assert.equal(all.length, before + 80);
      assert.deepEqual(all.map((r) => r.seq), Array.from({ length: all.length }, (_, i) => i + 1), 'no gap, no duplicate');
      // Each transaction's two events are adjacent: appends did not interleave.
      for (let i = 0; i < 40; i++) {
        const a = all.findIndex((r) => r.patient_id === `c-${i}`);
        assert.equal(all[a + 1]!.patient_id, `d-${i}`);
      }
      assert.equal((await verifyDisclosureChain(db)).ok, true);
    });

    test('audit-verify exits 0 for a whole chain and names the first bad entry of an edit, a deletion, an insertion, a reordering and a truncation', { timeout: 60_000 }, async () => {
      const whole = auditVerify();
      assert.equal(whole.status, 0, whole.stderr);
      assert.match(whole.stdout, /whole: 82 entries/);

      const saved = { rows: await rows(), head: await head() };
      async function restore(): Promise<void> {
        await db.deleteFrom('disclosure_events').execute();
        for (let i = 0; i < saved.rows.length; i += 500) await db.insertInto('disclosure_events').values(saved.rows.slice(i, i + 500)).execute();
        await db.updateTable('disclosure_head').set(saved.head).where('id', '=', 1).execute();
      }
      /** Tampers, checks the verifier names the entry (through the command line when `cli`), restores. */
      async function expectBroken(tamper: () => Promise<void>, seq: number, problem: RegExp, cli = false): Promise<void> {
        await tamper();
        const report = await verifyDisclosureChain(db);
        assert.equal(report.ok, false);
        assert.equal(report.firstBad?.seq, seq);
        assert.match(report.firstBad!.problem, problem);
        if (cli) {
          const r = auditVerify();
          assert.equal(r.status, 2, r.stdout + r.stderr);
          assert.match(r.stdout, new RegExp(`broken at entry ${seq}: `));
          assert.doesNotMatch(r.stdout + r.stderr, /[pcd]-\d|Observation/, 'names the entry by seq only');
        }
        await restore();
        assert.equal((await verifyDisclosureChain(db)).ok, true);
      }
      const row = (seq: number) => saved.rows.find((r) => r.seq === seq)!;

      // Edited: the entry text (a different patient), or only the event or the indexed patient column.
      await expectBroken(() => db.updateTable('disclosure_events').set({ entry: row(10).entry.replace('Observation/', 'Observation/x') }).where('seq', '=', 10).execute().then(() => undefined), 10, /hash-mismatch/, true);
      await expectBroken(() => db.updateTable('disclosure_events').set({ event: row(11).event.replace('dr.ledger', 'dr.other') }).where('seq', '=', 11).execute().then(() => undefined), 11, /event-mismatch/);
      await expectBroken(() => db.updateTable('disclosure_events').set({ patient_id: 'elsewhere' }).where('seq', '=', 12).execute().then(() => undefined), 12, /entry-mismatch/);
      // Deleted from the middle.
      await expectBroken(() => db.deleteFrom('disclosure_events').where('seq', '=', 20).execute().then(() => undefined), 20, /missing/);
      // Inserted: a copy of entry 30 pushed in as 31, the rest renumbered up.
      await expectBroken(async () => {
        await db.deleteFrom('disclosure_events').where('seq', '>', 30).execute();
        const shifted = saved.rows.filter((r) => r.seq > 30).map((r) => ({ ...r, seq: r.seq + 1 }));
        await db.insertInto('disclosure_events').values([{ ...row(30), seq: 31 }, ...shifted]).execute();
        await db.updateTable('disclosure_head').set({ seq: saved.head.seq + 1 }).where('id', '=', 1).execute();
      }, 31, /broken-link|entry-mismatch/);
      // Reordered: entries 40 and 41 swap places.
      await expectBroken(async () => {
        await db.deleteFrom('disclosure_events').where('seq', 'in', [40, 41]).execute();
        await db.insertInto('disclosure_events').values([{ ...row(41), seq: 40 }, { ...row(40), seq: 41 }]).execute();
      }, 40, /broken-link/);
      // Truncated: the last three entries gone; the head still says 82.
      await expectBroken(() => db.deleteFrom('disclosure_events').where('seq', '>', 79).execute().then(() => undefined), 80, /truncated/, true);
    });
  });
}
