/**
 * Rollback of a device's cache, against a real backend (SQLite and
 * PostgreSQL), real encrypted cache files and the real keychain. An older copy of
 * the data folder put back is said at open (CACHE_ROLLED_BACK, the cache
 * still opens and keeps everything), found again by the backend's signed
 * head at the next sync even when the keychain knew nothing, and survived:
 * a signed rollback entry continues the chain from the backend's last
 * accepted entry, the entries the backend never saw follow it re-chained
 * with their content unchanged, the upload lands, both chains verify and
 * agree, and the backend flags the event (extension and security log).
 * A tampered or foreign keychain receipt is ignored; normal close/open and
 * upload cycles never raise the alarm; and the backend refuses a rollback
 * entry that would rewrite or hide what it holds.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { generateKeyPairSync, createPublicKey, sign } from 'node:crypto';
import { join } from 'node:path';
import { AUDIT_GENESIS_HASH, auditHeadMessage, canonicalAuditEntry, lostRangeEntities, parseCanonicalAuditEntry, rollbackEntities, rollbackFacts, type AuditEntry } from '../shared/audit-entry';
import { AUDIT_ROLLBACKS_PATH, AUDIT_UPLOAD_PATH, receiptMessage } from '../shared/audit-upload';
import { linkHash } from '../electron/services/audit-chain';
import { verifyCache } from '../electron/services/cache-maintenance';
import type { CacheSession } from '../electron/services/cache-session';
import { ROLLBACK_PENDING_MESSAGE, ROLLBACK_REPORTED_MESSAGE, auditReceiptAccount, deviceHeadAccount, rollbackNotice } from '../electron/services/rollback-guard';
import { outboxSize } from '../electron/services/outbox';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { openCacheSession } from '../electron/services/cache-session';
import { createHandlerRegistry } from '../electron/services/handler-registry';
import { registerDevice } from './support/backend-db';
import { inspectCache } from './support/cache-inspect';
import { CLINICIAN, auditVerify, backendChain, localHead, privacyOfficerToken, startRollbackRig, work, type RollbackRig } from './support/rollback-backend';

/** An entry's content without its seq: what a re-chain must keep. */
function content(text: string): string {
  const { seq: _seq, ...rest } = parseCanonicalAuditEntry(text)!;
  return JSON.stringify(rest);
}

/** The device's entries after `after`, read from its cache file through the test's own connection. */
async function localRows(rig: RollbackRig, session: CacheSession, after = 0): Promise<Array<{ seq: number; entry: string; hash: string }>> {
  const db = await inspectCache(session, rig.keychain);
  return db.prepare('SELECT seq, entry, hash FROM audit_log WHERE seq > ? ORDER BY seq').all(after) as Array<{ seq: number; entry: string; hash: string }>;
}

/** Every entry the device holds is the backend's entry at that seq (the two chains are one). */
async function assertChainsAgree(rig: RollbackRig, session: CacheSession): Promise<void> {
  const backend = await backendChain(rig, session.context.deviceId);
  assert.equal(backend.ok, true, 'the backend chain verifies');
  for (const row of await localRows(rig, session)) assert.equal(backend.hashes.get(row.seq), row.hash, `entry ${row.seq} is the same on both sides`);
  assert.equal(backend.entries, await localHead(session), 'the backend holds the whole chain');
  assert.equal((await verifyCache(session)).ok, true, 'the device chain verifies');
}

const rolledBackEvents = (rig: RollbackRig) => rig.securityLines.filter((l) => (JSON.parse(l) as { event: string }).event === 'audit-rollback-detected');

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`cache rollback, backend on ${engine}`, () => {
    let rig: RollbackRig;
    before(async () => {
      rig = await startRollbackRig(engine, `rollback-${engine}`);
    });
    after(async () => {
      await rig?.dispose();
    });

    test('normal close, open and upload cycles never raise a rollback', async () => {
      for (let cycle = 0; cycle < 6; cycle++) {
        const session = await rig.open();
        try {
          assert.equal(await rollbackNotice(session), null, `cycle ${cycle}: no notice at open`);
          await work(session, rig.patients, 7, `normal-${cycle}`);
          // Upload twice in some cycles, and not at all in one: nothing of it is a rollback.
          if (cycle !== 2) await rig.upload(session);
          if (cycle % 2 === 0) await rig.upload(session);
          assert.equal(await rollbackNotice(session), null, `cycle ${cycle}: no notice after upload`);
        } finally {
          await session.close();
        }
      }
      const session = await rig.open();
      try {
        await rig.upload(session);
        await assertChainsAgree(rig, session);
        assert.deepEqual((await backendChain(rig, session.context.deviceId)).rollbacks, []);
        assert.equal(rolledBackEvents(rig).length, 0);
      } finally {
        await session.close();
      }
    });

    test('an older copy of the data folder put back: said at open, everything kept, re-chained behind a rollback entry, uploaded and flagged', async () => {
      const copy = join(rig.root, 'older-copy');
      let session = await rig.open();
      await work(session, rig.patients, 5, 'before-copy');
      await rig.upload(session);
      await session.close();
      cpSync(rig.dataDir, copy, { recursive: true });

      session = await rig.open();
      await work(session, rig.patients, 12, 'after-copy');
      const backendHead = (await rig.upload(session))!;
      await session.close();
      const heldBefore = await backendChain(rig, session.context.deviceId);

      rmSync(rig.dataDir, { recursive: true, force: true });
      cpSync(copy, rig.dataDir, { recursive: true });
      session = await rig.open();
      try {
        const notice = await rollbackNotice(session);
        assert.equal(notice?.code, 'CACHE_ROLLED_BACK', 'said at open');
        assert.equal(notice?.message, ROLLBACK_PENDING_MESSAGE);
        // The clinician sees it in the sync status, and keeps working.
        const registry = createHandlerRegistry({ session: () => session, problem: () => null, actor: () => CLINICIAN });
        assert.equal((await registry['sync.status']({}, {} as never)).rolledBack, ROLLBACK_PENDING_MESSAGE);
        const keptSeq = await localHead(session);
        assert.ok(keptSeq < backendHead.seq, 'the copy is older than what the backend holds');
        assert.deepEqual((await verifyCache(session)).firstBad, { seq: backendHead.seq, problem: 'receipt-mismatch' }, 'verify says so too');
        const outboxBefore = await outboxSize(session);

        // The clinician keeps working on the restored cache.
        await work(session, rig.patients, 6, 'after-restore');
        const written = (await localRows(rig, session, keptSeq)).map((r) => content(r.entry));
        assert.ok(written.length > 0);

        const receipt = await rig.upload(session);
        const rollbackSeq = backendHead.seq + 1;
        assert.equal(receipt?.seq, rollbackSeq + written.length, 'everything reached the backend');
        const rollback = parseCanonicalAuditEntry((await localRows(rig, session, rollbackSeq - 1))[0]!.entry)!;
        assert.equal(rollback.seq, rollbackSeq);
        assert.equal(rollback.actor, CLINICIAN);
        const facts = rollbackFacts(rollback)!;
        assert.equal(facts.keptSeq, keptSeq);
        assert.equal(facts.backendSeq, backendHead.seq);
        assert.equal(facts.backendHash, backendHead.hash);
        assert.equal(facts.rechained, written.length);
        assert.deepEqual((await localRows(rig, session, rollbackSeq)).map((r) => content(r.entry)), written, 're-chained with their content unchanged');
        assert.equal((await localRows(rig, session, keptSeq)).filter((r) => r.seq <= backendHead.seq).length, 0, 'no local entry reuses a seq the backend holds');

        await assertChainsAgree(rig, session);
        const held = await backendChain(rig, session.context.deviceId);
        for (const [seq, hash] of heldBefore.hashes) assert.equal(held.hashes.get(seq), hash, `entry ${seq} the backend held is unchanged`);
        assert.deepEqual(held.rollbacks, [rollbackSeq], 'the rollback entry is flagged');
        const events = rolledBackEvents(rig);
        assert.equal(events.length, 1, 'one security event');
        const line = JSON.parse(events[0]!) as Record<string, string>;
        assert.equal(line.deviceId, session.context.deviceId);
        assert.equal(line.clinicianId, CLINICIAN);
        for (const p of rig.patients) assert.ok(!events[0]!.includes(p), 'no patient id in the log');
        assert.equal((await rollbackNotice(session))?.message, ROLLBACK_REPORTED_MESSAGE, 'the clinician is told the privacy officer knows');
        assert.equal((await registry['sync.status']({}, {} as never)).rolledBack, ROLLBACK_REPORTED_MESSAGE);

        // The privacy officer's review lists it; nobody else sees the list (the same 404 as a missing page).
        const review = async (token: string) => {
          const res = await fetch(new URL(AUDIT_ROLLBACKS_PATH.slice(1), `${rig.url}/`), { headers: { authorization: `Bearer ${token}` } });
          return { status: res.status, body: (await res.json()) as { rollbacks?: Array<Record<string, unknown>> } };
        };
        const listed = await review(await privacyOfficerToken(rig.db, 'full'));
        assert.equal(listed.status, 200);
        assert.deepEqual(
          listed.body.rollbacks?.find((r) => r.deviceId === session.context.deviceId),
          { deviceId: session.context.deviceId, clinicianId: CLINICIAN, seq: rollbackSeq, recordedAt: rollback.recordedAt, kind: 'backend-ahead', keptSeq, backendSeq: backendHead.seq, rechained: written.length, lostSeq: null },
        );
        for (const [who, token] of [['the clinician', rig.token], ['a clinician without the role', await privacyOfficerToken(rig.db, 'full', false)]] as const) {
          const res = await review(token);
          assert.equal(res.status, 404, who);
          assert.equal(res.body.rollbacks, undefined, who);
        }
        // A sync-only session is refused before the route, as for every passkey-only route.
        const syncOnly = await review(await privacyOfficerToken(rig.db, 'sync'));
        assert.equal(syncOnly.status, 403);
        assert.equal(syncOnly.body.rollbacks, undefined);
        assert.ok(await outboxSize(session) >= outboxBefore, 'nothing waiting was dropped');

        // It goes on as one chain: more work, more uploads, no new alarm.
        await work(session, rig.patients, 4, 'after-recovery');
        await rig.upload(session);
        await assertChainsAgree(rig, session);
      } finally {
        await session.close();
      }
      session = await rig.open();
      try {
        assert.equal(await rollbackNotice(session), null, 'told once: the next open is quiet');
        assert.equal((await createHandlerRegistry({ session: () => session, problem: () => null, actor: () => CLINICIAN })['sync.status']({}, {} as never)).rolledBack, null);
        assert.equal((await verifyCache(session)).ok, true);
      } finally {
        await session.close();
      }
      assert.equal(rolledBackEvents(rig).length, 1);
    });

    test('a restored copy the keychain knows nothing about is found by the backend at the next sync', async () => {
      const copy = join(rig.root, 'older-copy-2');
      cpSync(rig.dataDir, copy, { recursive: true });
      let session = await rig.open();
      await work(session, rig.patients, 9, 'before-restore-2');
      const backendHead = (await rig.upload(session))!;
      await session.close();
      // The keychain lost the receipt and the device's own head (or never got them): only the backend can tell.
      await rig.keychain.delete(auditReceiptAccount(session.profile.profileId));
      await rig.keychain.delete(deviceHeadAccount(session.profile.profileId));
      rmSync(rig.dataDir, { recursive: true, force: true });
      cpSync(copy, rig.dataDir, { recursive: true });
      session = await rig.open();
      try {
        assert.equal(await rollbackNotice(session), null, 'nothing to compare with at open');
        const keptSeq = await localHead(session);
        await work(session, rig.patients, 5, 'after-restore-2');
        const written = (await localRows(rig, session, keptSeq)).map((r) => content(r.entry));
        await rig.upload(session);
        assert.equal((await rollbackNotice(session))?.code, 'CACHE_ROLLED_BACK', 'said once the backend answered');
        assert.deepEqual((await localRows(rig, session, backendHead.seq + 1)).map((r) => content(r.entry)), written);
        await assertChainsAgree(rig, session);
        assert.deepEqual((await backendChain(rig, session.context.deviceId)).rollbacks.at(-1), backendHead.seq + 1);
      } finally {
        await session.close();
      }
    });

    test('a second rollback, to a copy that itself holds a rollback entry, is survived the same way', async () => {
      const copy = join(rig.root, 'copy-with-bridge');
      cpSync(rig.dataDir, copy, { recursive: true });
      let session = await rig.open();
      assert.ok((await localRows(rig, session)).some((r) => parseCanonicalAuditEntry(r.entry)!.subtype === 'rollback-detected'), 'the copy holds an earlier rollback entry');
      await work(session, rig.patients, 8, 'before-second');
      const backendHead = (await rig.upload(session))!;
      await session.close();
      rmSync(rig.dataDir, { recursive: true, force: true });
      cpSync(copy, rig.dataDir, { recursive: true });
      session = await rig.open();
      try {
        assert.equal((await rollbackNotice(session))?.code, 'CACHE_ROLLED_BACK');
        const keptSeq = await localHead(session);
        await work(session, rig.patients, 5, 'after-second');
        const written = (await localRows(rig, session, keptSeq)).map((r) => content(r.entry));
        await rig.upload(session);
        const rollback = parseCanonicalAuditEntry((await localRows(rig, session, backendHead.seq))[0]!.entry)!;
        assert.deepEqual(rollbackFacts(rollback), { keptSeq, keptHash: (await localRows(rig, session, keptSeq - 1))[0]!.hash, backendSeq: backendHead.seq, backendHash: backendHead.hash, rechained: written.length });
        assert.deepEqual((await localRows(rig, session, backendHead.seq + 1)).map((r) => content(r.entry)), written);
        await assertChainsAgree(rig, session);
      } finally {
        await session.close();
      }
    });

    test('a keychain receipt tampered with, signed by another key, or from another profile is ignored', async () => {
      let session = await rig.open();
      await work(session, rig.patients, 3, 'tamper');
      await rig.upload(session);
      const profileId = session.profile.profileId;
      const head = await localHead(session);
      await session.close();
      const account = auditReceiptAccount(profileId);
      const genuine = (await rig.keychain.get(account))!;
      const kept = JSON.parse(genuine) as { format: 1; receipt: { deviceId: string; seq: number; hash: string; receivedAt: string; signature: string }; receiptKey: string };
      assert.equal(kept.receipt.seq, head, 'the keychain holds the latest receipt');

      const opensQuietly = async (text: string, why: string) => {
        await rig.keychain.set(account, text);
        const s = await rig.open();
        try {
          assert.equal(await rollbackNotice(s), null, `${why}: not acted on`);
        } finally {
          await s.close();
        }
      };
      // Seq moved on past the chain, signature kept: would raise a false alarm if trusted.
      await opensQuietly(JSON.stringify({ ...kept, receipt: { ...kept.receipt, seq: head + 500 } }), 'tampered seq');
      await opensQuietly(JSON.stringify({ ...kept, receipt: { ...kept.receipt, hash: 'f'.repeat(64) } }), 'tampered hash');
      await opensQuietly('{"format":1,', 'damaged');
      // A receipt made with someone else's key, the key named beside it.
      const { privateKey } = generateKeyPairSync('ed25519');
      const forgedBody = { ...kept.receipt, seq: head + 500 };
      const { signature: _s, ...body } = forgedBody;
      const forged = { format: 1, receipt: { ...body, signature: sign(null, Buffer.from(receiptMessage(body)), privateKey).toString('base64') }, receiptKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64url') };
      await opensQuietly(JSON.stringify(forged), 'another key');

      // Another profile's genuine receipt, further along than this chain.
      const otherDir = join(rig.root, 'other-device');
      const other = await openCacheSession({ dataDir: otherDir, secrets: rig.keychain, actor: CLINICIAN, create: true });
      try {
        const otherToken = await registerDevice(rig.db, CLINICIAN, other);
        await other.store.call('appendAudit', { records: Array.from({ length: head + 20 }, () => ({ action: 'E', subtype: 'search-type', patientId: null, entities: [], query: 'x', outcome: '0' })) });
        await (await import('../electron/services/audit-upload')).uploadAuditChain(other, rig.client, otherToken);
      } finally {
        await other.close();
      }
      const foreign = (await rig.keychain.get(auditReceiptAccount(other.profile.profileId)))!;
      assert.ok((JSON.parse(foreign) as typeof kept).receipt.seq > head);
      await opensQuietly(foreign, 'another profile');

      // The next sync puts the genuine receipt back.
      session = await rig.open();
      try {
        await rig.upload(session);
        assert.equal(await rollbackNotice(session), null);
        const back = JSON.parse((await rig.keychain.get(account))!) as typeof kept;
        assert.equal(back.receipt.seq, await localHead(session));
        assert.equal(back.receipt.deviceId, profileId);
      } finally {
        await session.close();
      }
    });

    test('the backend refuses a rollback entry that would rewrite or hide what it holds', async () => {
      const session = await rig.open();
      try {
        await work(session, rig.patients, 4, 'attack');
        await rig.upload(session);
        const deviceId = session.context.deviceId;
        const before = await backendChain(rig, deviceId);
        const n = before.entries;
        const hashAt = (seq: number) => (seq === 0 ? AUDIT_GENESIS_HASH : before.hashes.get(seq)!);
        const rollbackEntry = (seq: number, facts: Parameters<typeof rollbackEntities>[0]): AuditEntry => ({
          seq,
          recordedAt: new Date().toISOString(),
          actor: CLINICIAN,
          deviceId,
          purpose: 'TREAT',
          network: 'online',
          action: 'E',
          subtype: 'rollback-detected',
          patientId: null,
          entities: rollbackEntities(facts),
          query: null,
          outcome: '0',
        });
        const post = async (entries: Array<{ entry: AuditEntry; prevHash: string }>, key = session.keys.signingKey) => {
          const wire = entries.map(({ entry, prevHash }) => {
            const text = canonicalAuditEntry(entry);
            return { seq: entry.seq, entry: text, prevHash, hash: linkHash(prevHash, text) };
          });
          const last = wire.at(-1)!;
          const signature = sign(null, Buffer.from(auditHeadMessage(deviceId, last.seq, last.hash)), key).toString('base64');
          const res = await fetch(new URL(AUDIT_UPLOAD_PATH.slice(1), `${rig.url}/`), {
            method: 'POST',
            headers: { authorization: `Bearer ${rig.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ entries: wire, head: { seq: last.seq, hash: last.hash, signature } }),
          });
          return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
        };
        const refused = async (what: string, entries: Array<{ entry: AuditEntry; prevHash: string }>, key?: Parameters<typeof post>[1]) => {
          const res = await post(entries, key);
          assert.equal(res.status, 400, what);
          assert.equal(res.body.error?.code, 'AUDIT_CHAIN_INVALID', what);
        };
        const honest = { keptSeq: n - 3, keptHash: hashAt(n - 3), backendSeq: n, backendHash: hashAt(n), rechained: 0 };

        // Replacing entries the backend holds: a rollback entry at a seq it already has.
        await refused('a rollback entry over an accepted seq', [{ entry: rollbackEntry(n - 2, { ...honest, backendSeq: n - 3, backendHash: hashAt(n - 3), keptSeq: n - 5, keptHash: hashAt(n - 5) }), prevHash: hashAt(n - 3) }]);
        // Following an earlier entry, hiding the last ones.
        await refused('a rollback entry that does not follow the last accepted entry', [{ entry: rollbackEntry(n + 1, { ...honest, backendHash: hashAt(n - 1) }), prevHash: hashAt(n - 1) }]);
        // Naming an entry it does not follow, or a shared entry the backend does not hold.
        await refused('facts naming another backend entry', [{ entry: rollbackEntry(n + 1, { ...honest, backendSeq: n - 1 }), prevHash: hashAt(n) }]);
        await refused('a made-up shared entry', [{ entry: rollbackEntry(n + 1, { ...honest, keptHash: 'a'.repeat(64) }), prevHash: hashAt(n) }]);
        await refused('a shared entry at or after the one it follows', [{ entry: rollbackEntry(n + 1, { ...honest, keptSeq: n, keptHash: hashAt(n) }), prevHash: hashAt(n) }]);
        // The lost-range form (entries lost that the backend never saw) bridges no gap and must name the entry it follows.
        const lostEntry = (seq: number, entities: string[]): AuditEntry => ({ ...rollbackEntry(seq, honest), entities });
        const lostRange = (keptSeq: number, keptHash: string) => lostRangeEntities({ keptSeq, keptHash, lostSeq: n + 7, lostHash: 'b'.repeat(64) });
        await refused('a lost-range entry naming another entry it follows', [{ entry: lostEntry(n + 1, lostRange(n, hashAt(n - 1))), prevHash: hashAt(n) }]);
        await refused('a lost-range entry naming itself or a later entry', [{ entry: lostEntry(n + 1, lostRange(n + 1, hashAt(n))), prevHash: hashAt(n) }]);
        await refused('a lost-range entry over an accepted seq', [{ entry: lostEntry(n - 1, lostRange(n - 2, hashAt(n - 2))), prevHash: hashAt(n - 2) }]);
        await refused('a rollback entry with facts of neither form', [{ entry: lostEntry(n + 1, [...lostRange(n, hashAt(n)), 'x']), prevHash: hashAt(n) }]);
        // Signed by a key that is not this device's.
        await refused('signed by another key', [{ entry: rollbackEntry(n + 1, honest), prevHash: hashAt(n) }], generateKeyPairSync('ed25519').privateKey);

        const after = await backendChain(rig, deviceId);
        assert.equal(after.entries, n, 'nothing was stored');
        const whole = auditVerify(rig);
        assert.equal(whole.status, 0, whole.stdout);
        assert.deepEqual([...after.hashes], [...before.hashes], 'nothing the backend held changed');
        assert.equal(after.ok, true);

        // The honest one, signed by the device, is accepted and flagged (the backend cannot tell; the privacy officer reviews it).
        const accepted = await post([{ entry: rollbackEntry(n + 1, honest), prevHash: hashAt(n) }]);
        assert.equal(accepted.status, 200);
        assert.ok((await backendChain(rig, deviceId)).rollbacks.includes(n + 1));

        // audit-verify names a device chain edited on the backend (by device and seq only).
        const text = before.texts.get(n - 1)!;
        await rig.db.updateTable('audit_entries').set({ entry: text.replace(CLINICIAN, 'someone-else') }).where('device_id', '=', deviceId).where('seq', '=', n - 1).execute();
        const broken = auditVerify(rig);
        assert.equal(broken.status, 2);
        assert.ok(broken.stdout.includes(`device ${deviceId} audit chain broken at entry ${n - 1}: hash-mismatch`), broken.stdout);
        await rig.db.updateTable('audit_entries').set({ entry: text }).where('device_id', '=', deviceId).where('seq', '=', n - 1).execute();
        assert.equal(auditVerify(rig).status, 0);
      } finally {
        await session.close();
      }
    });

    test('wiping the profile\'s keys takes its keychain receipt with them', async () => {
      const session = await rig.open();
      const profileId = session.profile.profileId;
      await session.close();
      assert.notEqual(await rig.keychain.get(auditReceiptAccount(profileId)), null);
      await deleteDeviceKeys(rig.keychain, profileId);
      assert.equal(await rig.keychain.get(auditReceiptAccount(profileId)), null);
    });
  });
}
