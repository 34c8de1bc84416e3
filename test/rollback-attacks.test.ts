/**
 * The outside tester's attacks on rollback detection, against a real backend
 * (SQLite and PostgreSQL), real encrypted cache files and the real keychain:
 * a restored backup that loses only work the backend never saw, a clinician
 * erasing their own chart reads by putting back a copy of the folder, a
 * rollback hidden from the privacy officer's review by searches for its
 * text, and a backend receipt key replaced by IT (the device must have a
 * way back: an authenticated answer re-pins it, a sync-only answer never).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { lostRangeFacts, parseCanonicalAuditEntry } from '../shared/audit-entry';
import { hashSecret } from '../server/organisation/organisation';
import { randomBytes } from 'node:crypto';
import { rollbackNotice, flushDeviceHeads } from '../electron/services/rollback-guard';
import { verifyCache } from '../electron/services/cache-maintenance';
import { outboxSize } from '../electron/services/outbox';
import { backupCache, restoreCache } from '../electron/services/cache-backup';
import { openChart, searchPatients } from '../electron/services/patient-records';
import { BackendClient } from '../electron/services/backend-client';
import { uploadAuditChain } from '../electron/services/audit-upload';
import { rollbackReview } from '../server/audit/rollback-review';
import { buildApp } from '../server/app';
import { RelyingParty } from '../server/auth/relying-party';
import { CLINICIAN, backendChain, localHead, startRollbackRig, work, type RollbackRig } from './support/rollback-backend';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`rollback attacks, backend on ${engine}`, () => {
    let rig: RollbackRig;
    before(async () => {
      rig = await startRollbackRig(engine, `atk-${engine}`);
    });
    after(async () => {
      await rig.dispose();
    });

    test('a restored backup that loses only offline work the backend never saw is said at open and flagged at the next sync', async () => {
      let s = await rig.open();
      await work(s, rig.patients, 6, 'a');
      await rig.upload(s);
      await s.close();
      const backup = join(rig.root, 'nightly.db');
      await backupCache(rig.dataDir, rig.keychain, backup);
      s = await rig.open();
      await work(s, rig.patients, 40, 'offline');
      const outboxBefore = await outboxSize(s);
      const headBefore = await localHead(s);
      await s.close();
      await restoreCache(rig.dataDir, rig.keychain, backup);
      s = await rig.open();
      try {
        assert.ok(await outboxSize(s) < outboxBefore && (await localHead(s)) < headBefore, 'the restore did lose work');
        assert.equal((await rollbackNotice(s))?.code, 'CACHE_ROLLED_BACK', 'said at open');
        assert.equal((await verifyCache(s)).firstBad, null, 'the chain itself still verifies');
        await rig.upload(s);
        const b = await backendChain(rig, s.context.deviceId);
        assert.equal(b.ok, true);
        assert.equal(b.rollbacks.length, 1, 'the backend flags the rollback');
        const facts = lostRangeFacts(parseCanonicalAuditEntry(b.texts.get(b.rollbacks[0]!)!)!);
        assert.ok(facts, 'the entry names the lost range');
        assert.equal(facts.lostSeq, headBefore, 'up to the head the keychain kept');
        assert.equal(facts.keptSeq, b.rollbacks[0]! - 1, 'from the entry it follows');
        assert.equal((await rollbackNotice(s))?.message.includes('has been told'), true);
        assert.ok(rig.securityLines.some((l) => l.includes('audit-rollback-detected')));
      } finally {
        await s.close();
      }
      // Reopened: said no more (reported), and normal work raises no new alarm.
      s = await rig.open();
      try {
        await work(s, rig.patients, 2, 'after');
        await rig.upload(s);
      } finally {
        await s.close();
      }
      s = await rig.open();
      try {
        assert.equal(await rollbackNotice(s), null);
        await rig.upload(s);
        assert.equal((await backendChain(rig, s.context.deviceId)).rollbacks.length, 1);
      } finally {
        await s.close();
      }
    });

    test('chart reads erased by putting back a copy of the closed folder are said at open and flagged', async () => {
      let s = await rig.open();
      await work(s, rig.patients, 3, 'b');
      await rig.upload(s);
      const flaggedBefore = (await backendChain(rig, s.context.deviceId)).rollbacks.length;
      await s.close();
      const copy = join(rig.root, 'stash');
      cpSync(rig.dataDir, copy, { recursive: true });
      s = await rig.open();
      for (const p of rig.patients) await openChart(s, p);
      const withReads = await localHead(s);
      await s.close();
      rmSync(rig.dataDir, { recursive: true, force: true });
      cpSync(copy, rig.dataDir, { recursive: true });
      rmSync(copy, { recursive: true, force: true });
      s = await rig.open();
      try {
        assert.equal((await rollbackNotice(s))?.code, 'CACHE_ROLLED_BACK');
        await rig.upload(s);
        const b = await backendChain(rig, s.context.deviceId);
        assert.equal(b.rollbacks.length, flaggedBefore + 1);
        const facts = lostRangeFacts(parseCanonicalAuditEntry(b.texts.get(b.rollbacks.at(-1)!)!)!);
        assert.equal(facts?.lostSeq, withReads);
      } finally {
        await s.close();
      }
    });

    test('searches for the text "rollback-detected" do not hide a rollback from the review', async () => {
      const before = await rollbackReview(rig.db);
      assert.ok(before.length >= 1);
      const s = await rig.open();
      try {
        for (let i = 0; i < 210; i++) await searchPatients(s, 'rollback-detected');
        await searchPatients(s, '["rollback-detected"] urn:clinician-desktop:rollback-detected');
        await rig.upload(s);
      } finally {
        await s.close();
      }
      const afterReview = await rollbackReview(rig.db);
      assert.deepEqual(afterReview.map((r) => r.seq), before.map((r) => r.seq), 'the review lists the same rollbacks, nothing else');
      const firstPage = await rollbackReview(rig.db, { limit: 1 });
      assert.equal(firstPage.length, 1);
      const second = await rollbackReview(rig.db, { limit: 1, before: { recordedAt: firstPage[0]!.recordedAt, deviceId: firstPage[0]!.deviceId, seq: firstPage[0]!.seq } });
      assert.deepEqual(second.map((r) => r.seq), before.slice(1, 2).map((r) => r.seq), 'paged');
    });

    test('a replaced backend receipt key: refused on sync answers, re-pinned by an authenticated sign-in answer, uploads go on', async () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const receiptKey = { privateKey, publicKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64url') };
      const clock = () => new Date();
      const app2 = buildApp({ db: rig.db, rp: new RelyingParty(rig.db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey });
      const url2 = await app2.listen({ port: 0, host: '127.0.0.1' });
      const s = await rig.open();
      try {
        await work(s, rig.patients, 2, 'rot');
        const now = new Date().toISOString();
        const syncToken = randomBytes(32).toString('base64url');
        await rig.db.insertInto('sessions').values({ token_hash: hashSecret(syncToken), clinician_id: CLINICIAN, device_id: s.context.deviceId, created_at: now, expires_at: '2999-01-01T00:00:00.000Z', scope: 'sync' }).execute();
        const client2 = new BackendClient(url2);
        for (let i = 0; i < 2; i++) await assert.rejects(uploadAuditChain(s, client2, syncToken), /unknown key/, 'a sync-only answer never re-pins');
        // The clinician signs in online with their passkey: a full session; its answer re-pins.
        const r = await uploadAuditChain(s, client2, rig.token);
        assert.equal(r?.seq, await localHead(s));
        await work(s, rig.patients, 1, 'rot2');
        assert.equal((await uploadAuditChain(s, client2, syncToken))?.seq, await localHead(s), 'sync-only uploads go on under the new key');
        // The old key is no longer taken on a sync-only answer.
        await assert.rejects(uploadAuditChain(s, rig.client, syncToken), /unknown key/);
      } finally {
        await s.close();
        await app2.close();
      }
      await flushDeviceHeads();
    });
  });
}
