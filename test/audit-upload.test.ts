/**
 * Audit upload: the device sends its chain with a signed head; the backend
 * (SQLite and PostgreSQL) checks continuity and the device signature,
 * stores the entries as BALP AuditEvents and signs a receipt. An edited
 * chain is refused whole; an edit or truncation after upload is flagged by
 * the device's own verify through the receipt; the backend lists a
 * patient's audit trail.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { loadReceiptKey } from './support/receipt-key';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { RelyingParty } from '../server/auth/relying-party';
import { BackendClient } from '../electron/services/backend-client';
import { importBundle } from '../electron/services/bundle-import';
import { openChart } from '../electron/services/patient-records';
import { uploadAuditChain } from '../electron/services/audit-upload';
import { verifyCache } from '../electron/services/cache-maintenance';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { openBackendDb, registerDevice } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patient = loadFixturePatients()[0]!;

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`audit upload, backend on ${engine}`, () => {
    const dir = scratchDir('audit-upload');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let client: BackendClient;
    let cache: TestCache;
    let token: string;
    const clock = () => new Date();

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      await addClinician(db, 'dr.audit', 'Dr Audit', clock);
      await assignPatients(db, 'dr.audit', [patient.id]);
      cache = await openTestCache('dr.audit');
      await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
      for (let i = 0; i < 50; i++) await openChart(cache.session, patient.id);
      token = await registerDevice(db, 'dr.audit', cache.session);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      client = new BackendClient(await app.listen({ port: 0, host: '127.0.0.1' }));
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      await cache?.dispose();
      dir.remove();
    });

    const backendCount = async () => Number((await db.selectFrom('audit_entries').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('the whole chain uploads with a signed head; the backend signs a receipt and stores BALP AuditEvents', async () => {
      const local = (await cache.db()).prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
      const receipt = await uploadAuditChain(cache.session, client, token);
      assert.equal(receipt?.seq, local);
      assert.equal(await backendCount(), local);
      const trail = (await (await fetch(`${client.baseUrl}/v1/audit/patients/${patient.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { events: Array<{ resourceType: string; action: string; agent: Array<{ who: { identifier: { value: string } } }> }> };
      assert.ok(trail.events.length >= 50);
      assert.equal(trail.events[0]!.resourceType, 'AuditEvent');
      assert.equal(trail.events[0]!.action, 'R');
      assert.equal(trail.events[0]!.agent[0]!.who.identifier.value, 'dr.audit');
      assert.equal((await verifyCache(cache.session)).ok, true);
    });

    test('later entries continue from the receipt', async () => {
      await openChart(cache.session, patient.id);
      const before = await backendCount();
      const receipt = await uploadAuditChain(cache.session, client, token);
      assert.equal(await backendCount(), before + 1);
      assert.equal(receipt?.seq, before + 1);
    });

    test('an upload repeated because its answer was lost is accepted as it is; one repeating an edited entry is refused', async () => {
      const before = await backendCount();
      const file = await cache.db();
      const forgetReceipt = () => file.prepare("DELETE FROM sync_state WHERE key = 'audit_receipt'").run();
      forgetReceipt();
      const receipt = await uploadAuditChain(cache.session, client, token);
      assert.equal(receipt?.seq, before, 'a receipt for the same head');
      assert.equal(await backendCount(), before, 'nothing stored twice');

      forgetReceipt();
      const original = file.prepare('SELECT entry FROM audit_log WHERE seq = 3').pluck().get() as string;
      file.prepare("UPDATE audit_log SET entry = replace(entry, '\"dr.audit\"', '\"someone\"') WHERE seq = 3").run();
      await assert.rejects(uploadAuditChain(cache.session, client, token), (e: unknown) => e instanceof AppError && e.code === 'SIGN_IN_REFUSED');
      assert.equal(await backendCount(), before);
      file.prepare('UPDATE audit_log SET entry = ? WHERE seq = 3').run(original);
      assert.equal((await uploadAuditChain(cache.session, client, token))?.seq, before);
    });

    test('an entry edited before upload makes the backend refuse the upload whole', async () => {
      for (let i = 0; i < 5; i++) await openChart(cache.session, patient.id);
      const file = await cache.db();
      const seq = file.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
      file.prepare("UPDATE audit_log SET entry = replace(entry, '\"dr.audit\"', '\"someone\"') WHERE seq = ?").run(seq - 2);
      const before = await backendCount();
      await assert.rejects(uploadAuditChain(cache.session, client, token), (e: unknown) => e instanceof AppError && e.code === 'SIGN_IN_REFUSED');
      assert.equal(await backendCount(), before, 'nothing of it was stored');
      assert.equal((await verifyCache(cache.session)).ok, false);
    });

    test('entries removed after upload (with their signed heads) are flagged through the receipt', async () => {
      const t = await openTestCache('dr.audit');
      try {
        // A second, clean device chain for this check.
        await importBundle(t.session, readFileSync(SYNTHEA_FILES[0]!));
        for (let i = 0; i < 10; i++) await openChart(t.session, patient.id);
        const tok = await registerDevice(db, 'dr.audit', t.session);
        const receipt = (await uploadAuditChain(t.session, client, tok))!;
        const file = await t.db();
        file.prepare('DELETE FROM audit_log WHERE seq > ?').run(receipt.seq - 3);
        file.prepare('DELETE FROM audit_heads WHERE seq > ?').run(receipt.seq - 3);
        const report = await verifyCache(t.session);
        assert.deepEqual(report.firstBad, { seq: receipt.seq, problem: 'receipt-mismatch' });
      } finally {
        await t.dispose();
      }
    });
  });
}
