/**
 * One change the database refuses does not sink a push, on SQLite and on
 * PostgreSQL: a real backend process, a trigger added to its database that
 * refuses one resource (its error message quotes the resource, as a
 * database's messages do), and a 500-change push. The push answers 200; that
 * change is `refused` with a reason naming no value; the other 499 land once;
 * the same push again changes nothing and gets the same answers; and neither
 * the answer nor the backend's logs carry what the database said.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../server/database';
import { PUSH_PATH, type Change } from '../shared/sync-api';
import type { CacheSession } from '../electron/services/cache-session';
import { registerDeviceAt } from './support/backend-db';
import { startBackend, type BackendProcess } from './support/backend-process';
import { post } from './support/passkey-ceremony';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';

/** Text the trigger's error carries: it must never reach an answer or a log. */
const MARKER = 'Secretpatientname Zqx';

const observation = (id: string, patientId: string, note = 'ok') => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { text: 'Heart rate' },
  subject: { reference: `Patient/${patientId}` },
  valueQuantity: { value: 70, unit: '/min' },
  note: [{ text: note }],
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`a change the database refuses, backend on ${engine}`, () => {
    const dir = scratchDir(`push-savepoint-${engine}`);
    let backend: BackendProcess;
    let token: string;
    const patientId = `sp-patient-${engine}`;

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 1 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.sp', '--name', 'Dr Savepoint', '--assign-all']);
      const keys = generateKeyPairSync('ed25519');
      token = await registerDeviceAt(backend, 'dr.sp', { keys: { publicKey: keys.publicKey }, profile: { profileId: randomUUID() } } as unknown as CacheSession);
      // The database itself refuses resources whose id starts with "poison", quoting the row as databases do.
      const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
      try {
        if (engine === 'postgres') {
          await sql
            .raw(
              `CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused row %', NEW.json USING ERRCODE = '23514'; END $$ LANGUAGE plpgsql;
               CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON resources FOR EACH ROW WHEN (NEW.id LIKE 'poison%') EXECUTE FUNCTION refuse_poison();
               CREATE FUNCTION fail_fault() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'fault row %', NEW.json USING ERRCODE = split_part(NEW.id, '-', 2); END $$ LANGUAGE plpgsql;
               CREATE TRIGGER fail_fault BEFORE INSERT OR UPDATE ON resources FOR EACH ROW WHEN (NEW.id LIKE 'fault-%') EXECUTE FUNCTION fail_fault();`,
            )
            .execute(db);
        } else {
          await sql.raw(`CREATE TRIGGER refuse_poison BEFORE INSERT ON resources WHEN NEW.id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused row ' || NEW.json); END;`).execute(db);
        }
      } finally {
        await db.destroy();
      }
    });
    after(async () => {
      await backend?.dispose();
      dir.remove();
    });

    test('a 500-change push with one change the database refuses: 200, that change refused with a safe reason, the other 499 land once', async () => {
      const changes: Change[] = Array.from({ length: 500 }, (_, i) => ({
        idempotencyKey: randomUUID(),
        resourceType: 'Observation',
        id: i === 250 ? 'poison-250' : `sp-${engine}-${i}`,
        baseVersion: null,
        resource: observation(i === 250 ? 'poison-250' : `sp-${engine}-${i}`, patientId, i === 250 ? MARKER : 'ok'),
      }));
      const first = await post(backend.url, PUSH_PATH, { changes }, token);
      assert.equal(first.status, 200, first.text);
      const results = first.json.results as Array<{ idempotencyKey: string; status: string; reason?: string }>;
      assert.equal(results.length, 500);
      assert.deepEqual(results[250], { idempotencyKey: changes[250]!.idempotencyKey, status: 'refused', reason: "The server's database refused this change." });
      results.forEach((r, i) => {
        assert.equal(r.idempotencyKey, changes[i]!.idempotencyKey);
        if (i !== 250) assert.equal(r.status, 'applied', `change ${i}`);
      });
      assert.ok(!first.text.includes(MARKER) && !first.text.includes('poison'), 'the answer carries nothing the database said');

      // The same push again (an answer lost on the way): the same answers, nothing written twice.
      const again = await post(backend.url, PUSH_PATH, { changes }, token);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json.results, first.json.results);

      const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
      try {
        const landed = await db.selectFrom('resources').select(['id', 'version_id']).where('id', 'like', `sp-${engine}-%`).execute();
        assert.equal(landed.length, 499);
        assert.ok(landed.every((r) => Number(r.version_id) === 1), 'each landed once, at version 1');
        assert.equal((await db.selectFrom('resources').select('id').where('id', '=', 'poison-250').execute()).length, 0);
        const answers = await db
          .selectFrom('applied_changes')
          .select(['idempotency_key'])
          .where('idempotency_key', 'in', changes.map((c) => c.idempotencyKey))
          .execute();
        assert.equal(answers.length, 500, 'one stored answer per key');
        // The change numbers stay whole: the refused change's number was given back, not skipped by the others.
        const seqs = await db.selectFrom('resources').select('change_seq').where('id', 'like', `sp-${engine}-%`).execute();
        assert.equal(new Set(seqs.map((s) => Number(s.change_seq))).size, 1, 'one change number for the push');
        const counter = await db.selectFrom('counters').select('value').where('name', '=', 'change_seq').executeTakeFirstOrThrow();
        assert.equal(Number(seqs[0]!.change_seq), Number(counter.value));
      } finally {
        await db.destroy();
      }

      // Later pushes go on landing.
      const later = await post(backend.url, PUSH_PATH, { changes: [{ idempotencyKey: randomUUID(), resourceType: 'Observation', id: `sp-${engine}-later`, baseVersion: null, resource: observation(`sp-${engine}-later`, patientId) }] }, token);
      assert.equal(later.status, 200, later.text);
      assert.equal((later.json.results as Array<{ status: string }>)[0]!.status, 'applied');
      assert.ok(backend.alive());
      assert.ok(!backend.output().includes(MARKER), 'the logs carry nothing the database said');
    });

    test('the same 500-change push sent twice at once (a retry racing the original): both get the same answers, each change lands once with one stored answer', async () => {
      const changes: Change[] = Array.from({ length: 500 }, (_, i) => ({
        idempotencyKey: randomUUID(),
        resourceType: 'Observation',
        id: `race-${engine}-${i}`,
        baseVersion: null,
        resource: observation(`race-${engine}-${i}`, patientId),
      }));
      const [a, b] = await Promise.all([post(backend.url, PUSH_PATH, { changes }, token), post(backend.url, PUSH_PATH, { changes }, token)]);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(b.json.results, a.json.results);
      assert.ok((a.json.results as Array<{ status: string }>).every((r) => r.status === 'applied'));
      const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
      try {
        const landed = await db.selectFrom('resources').select(['id', 'version_id', 'change_seq']).where('id', 'like', `race-${engine}-%`).execute();
        assert.equal(landed.length, 500);
        assert.ok(landed.every((r) => Number(r.version_id) === 1), 'each landed once, at version 1');
        // Inserted together at the push's end with its change number: one number for all, none left unnumbered (a pull reads by it).
        assert.deepEqual([...new Set(landed.map((r) => Number(r.change_seq)))].length, 1);
        assert.ok(Number(landed[0]!.change_seq) > 0, 'the push\'s change number, not the placeholder');
        const answers = await db.selectFrom('applied_changes').select('idempotency_key').where('idempotency_key', 'in', changes.map((c) => c.idempotencyKey)).execute();
        assert.equal(answers.length, 500, 'one stored answer per key');
      } finally {
        await db.destroy();
      }
    });

    if (engine === 'postgres') {
      test('a record created by another transaction between the push\'s read and its insert: that change is a conflict carrying the stored record, the other 499 land once', async () => {
        const ids = Array.from({ length: 500 }, (_, i) => `meanwhile-${i}`);
        const changes: Change[] = ids.map((id) => ({ idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: observation(id, patientId, 'from the push') }));
        const other = observation(ids[250]!, patientId, 'made meanwhile');
        const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
        try {
          let answered = false;
          let pushed: ReturnType<typeof post> | undefined;
          await db.transaction().execute(async (trx) => {
            // Uncommitted: the push reads no record there, then its insert of that record waits on this one.
            await trx.insertInto('resources').values({ resource_type: 'Observation', id: ids[250]!, patient_id: patientId, json: JSON.stringify({ ...other, meta: { versionId: '1' } }), version_id: 1, change_seq: 0 }).execute();
            pushed = post(backend.url, PUSH_PATH, { changes }, token).finally(() => (answered = true));
            // Commit once the push's insert waits on this transaction's row (a lock not granted), or the push has answered.
            const deadline = Date.now() + 30_000;
            for (;;) {
              // This test's own database only (each test backend has a fresh one): a session of it waiting on a lock.
              const waiting = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
              if (Number(waiting.rows[0]!.n) > 0 || answered) break;
              if (Date.now() > deadline) throw new Error('the push never reached its insert');
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          });
          const r = await pushed!;
          assert.equal(r.status, 200, r.text);
          const results = r.json.results as Array<{ status: string; currentVersion?: string; current?: { note?: Array<{ text: string }> } }>;
          assert.deepEqual(results.map((x, i) => (i === 250 ? x.status : x.status === 'applied')), results.map((_, i) => (i === 250 ? 'conflict' : true)));
          assert.equal(results[250]!.currentVersion, '1');
          assert.equal(results[250]!.current?.note?.[0]?.text, 'made meanwhile', 'the conflict carries the record stored, not the push\'s');
          const landed = await db.selectFrom('resources').select(['id', 'version_id', 'json']).where('id', 'like', 'meanwhile-%').execute();
          assert.equal(landed.length, 500);
          assert.ok(landed.every((row) => Number(row.version_id) === 1), 'each record once, at version 1');
          assert.match(landed.find((row) => row.id === ids[250])!.json, /made meanwhile/, 'the record made meanwhile was not overwritten');
          const stored = await db.selectFrom('applied_changes').select('idempotency_key').where('idempotency_key', 'in', changes.map((c) => c.idempotencyKey)).execute();
          assert.equal(stored.length, 500, 'one stored answer per key');
        } finally {
          await db.destroy();
        }
      });
    }

    test('one push creating a record, updating it, repeating a key and refusing a change between: each change sees the ones before it', async () => {
      const id = `sp-${engine}-chain`;
      const k = [randomUUID(), randomUUID(), randomUUID()];
      const changes: Change[] = [
        { idempotencyKey: k[0]!, resourceType: 'Observation', id, baseVersion: null, resource: observation(id, patientId, 'v1') },
        { idempotencyKey: k[1]!, resourceType: 'Observation', id: 'poison-chain', baseVersion: null, resource: observation('poison-chain', patientId) },
        { idempotencyKey: k[2]!, resourceType: 'Observation', id, baseVersion: '1', resource: observation(id, patientId, 'v2') },
        { idempotencyKey: k[0]!, resourceType: 'Observation', id, baseVersion: null, resource: observation(id, patientId, 'v1') },
        { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: '1', resource: observation(id, patientId, 'stale') },
      ];
      const r = await post(backend.url, PUSH_PATH, { changes }, token);
      assert.equal(r.status, 200, r.text);
      const results = r.json.results as Array<{ status: string; versionId?: string; currentVersion?: string }>;
      assert.deepEqual(results.map((x) => x.status), ['applied', 'refused', 'applied', 'applied', 'conflict']);
      assert.equal(results[0]!.versionId, '1');
      assert.equal(results[2]!.versionId, '2');
      assert.equal(results[3]!.versionId, '1', 'a repeated key gets its first answer');
      assert.equal(results[4]!.currentVersion, '2');
    });

    test('the refused change as the first write of a push: its change number is taken again by the next change', async () => {
      const changes: Change[] = ['poison-first', `sp-${engine}-after-poison`].map((id) => ({ idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: observation(id, patientId) }));
      const r = await post(backend.url, PUSH_PATH, { changes }, token);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual((r.json.results as Array<{ status: string }>).map((x) => x.status), ['refused', 'applied']);
      const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
      try {
        const row = await db.selectFrom('resources').select('change_seq').where('id', '=', `sp-${engine}-after-poison`).executeTakeFirstOrThrow();
        const counter = await db.selectFrom('counters').select('value').where('name', '=', 'change_seq').executeTakeFirstOrThrow();
        assert.equal(Number(row.change_seq), Number(counter.value), 'the write carries the counter it took, not a number rolled back');
      } finally {
        await db.destroy();
      }
    });
    /** A push of two new records; its answers, status and Retry-After header. */
    const pushTwo = (ids: string[]) => {
      const changes: Change[] = ids.map((id) => ({ idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: observation(id, patientId) }));
      return { changes, answer: post(backend.url, PUSH_PATH, { changes }, token) };
    };
    /** How many answers are stored under these keys (a 503 stores none, so the client sends the push again). */
    const storedAnswers = async (changes: Change[]) => {
      const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
      try {
        return (await db.selectFrom('applied_changes').select('idempotency_key').where('idempotency_key', 'in', changes.map((c) => c.idempotencyKey)).execute()).length;
      } finally {
        await db.destroy();
      }
    };

    if (engine === 'sqlite') {
      test('another process holds the write lock for 300 ms: the push waits it out and every change lands', async () => {
        const other = new SQLite(join(backend.dataDir, 'backend.db'));
        other.exec('BEGIN IMMEDIATE');
        // The other writer (an admin command, a backup tool) commits on its own schedule: here after 300 ms.
        const released = new Promise<void>((resolve) => setTimeout(() => { other.exec('ROLLBACK'); other.close(); resolve(); }, 300));
        const { changes, answer } = pushTwo([`sp-${engine}-busy-0`, `sp-${engine}-busy-1`]);
        const r = await answer;
        await released;
        assert.equal(r.status, 200, r.text);
        assert.deepEqual((r.json.results as Array<{ status: string }>).map((x) => x.status), ['applied', 'applied']);
        assert.equal(await storedAnswers(changes), 2);
      });

      test('the write lock held past the wait: 503 SERVICE_UNAVAILABLE with Retry-After, nothing stored; the same push lands once the lock is gone', async () => {
        const other = new SQLite(join(backend.dataDir, 'backend.db'));
        other.exec('BEGIN IMMEDIATE');
        const { changes, answer } = pushTwo([`sp-${engine}-locked-0`, `sp-${engine}-locked-1`]);
        let r;
        try {
          r = await answer;
        } finally {
          other.exec('ROLLBACK');
          other.close();
        }
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.error && (r.json.error as { code: string }).code, 'SERVICE_UNAVAILABLE');
        assert.ok(r.headers.get('retry-after'), 'a Retry-After header');
        assert.equal(await storedAnswers(changes), 0, 'no answer stored: the device sends the push again');
        const again = await post(backend.url, PUSH_PATH, { changes }, token);
        assert.equal(again.status, 200, again.text);
        assert.deepEqual((again.json.results as Array<{ status: string }>).map((x) => x.status), ['applied', 'applied']);
      });
    } else {
      for (const [code, what] of [['25006', 'read-only'], ['53100', 'disk full'], ['57014', 'statement timeout'], ['55P03', 'lock timeout']] as const) {
        test(`SQLSTATE ${code} (${what}) on one change fails the whole push with 503 SERVICE_UNAVAILABLE and Retry-After, nothing stored`, async () => {
          const { changes, answer } = pushTwo([`sp-${engine}-before-${code}`, `fault-${code}-x`]);
          const r = await answer;
          assert.equal(r.status, 503, r.text);
          assert.equal((r.json.error as { code: string }).code, 'SERVICE_UNAVAILABLE');
          assert.ok(r.headers.get('retry-after'), 'a Retry-After header');
          assert.ok(!r.text.includes(MARKER) && !r.text.includes('fault row'), 'nothing the database said');
          assert.equal(await storedAnswers(changes), 0, 'no answer stored: the device sends the push again');
        });
      }

      test('the database read-only for a while (25006 on every write): 503 meanwhile, nothing stored; the same push lands once it is writable', async () => {
        const setReadOnly = async (on: boolean) => {
          const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
          try {
            await db.connection().execute(async (c) => {
              await sql`set default_transaction_read_only = off`.execute(c);
              const name = (await sql<{ d: string }>`select current_database() as d`.execute(c)).rows[0]!.d;
              await sql.raw(`ALTER DATABASE "${name.replace(/"/g, '""')}" SET default_transaction_read_only = ${on ? 'on' : 'off'}`).execute(c);
              // Sessions read the setting when they start: end the backend's, its pool reconnects.
              await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(c);
            });
          } finally {
            await db.destroy();
          }
        };
        await setReadOnly(true);
        let changes: Change[];
        try {
          const pushed = pushTwo([`sp-${engine}-ro-0`, `sp-${engine}-ro-1`]);
          changes = pushed.changes;
          const r = await pushed.answer;
          assert.equal(r.status, 503, r.text);
          assert.ok(r.headers.get('retry-after'), 'a Retry-After header');
        } finally {
          await setReadOnly(false);
        }
        assert.equal(await storedAnswers(changes), 0);
        const again = await post(backend.url, PUSH_PATH, { changes }, token);
        assert.equal(again.status, 200, again.text);
        assert.deepEqual((again.json.results as Array<{ status: string }>).map((x) => x.status), ['applied', 'applied']);
        assert.ok(backend.alive());
      });
    }
  });
}
