/**
 * The stolen-laptop attack with the keychain: a thief holds the data folder
 * AND everything the OS session's keychain gives out for the app's service
 * (keytar.findCredentials). On a PRF-enrolled device that is worth nothing:
 * the cache does not open, no audit head can be signed for the device (so
 * deleting un-uploaded audit entries and re-signing is caught by verify),
 * and no device-session proof is accepted by the real backend. Without PRF
 * the organisation's default policy refuses enrollment and nothing stays in
 * the keychain. Keys from before the signing key was wrapped are bound at
 * the next PRF sign-in. Real gnome-keyring, the encrypted cache, Chromium passkeys and
 * the backend process, on SQLite and PostgreSQL.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import keytar from 'keytar';
import type { Browser } from 'playwright-core';
import { AppError } from '../shared/app-error';
import { auditHeadMessage } from '../shared/audit-entry';
import { deviceSessionMessage } from '../shared/backend-api';
import { BackendClient, isSessionEnded } from '../electron/services/backend-client';
import { openCacheSession } from '../electron/services/cache-session';
import { openCacheDatabase } from '../electron/services/cache-database';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { verifyCache } from '../electron/services/cache-maintenance';
import { cacheKeyAccount, loadDeviceKeys, signingKeyAccount } from '../electron/services/device-keys';
import { setProblem } from '../electron/services/charting';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

let browser: Browser;
let renderer: RendererServer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
});
after(async () => {
  await browser?.close();
  await renderer?.close();
});

/** Every byte string a thief could read out of a keychain secret: the text, its base64 decodings, and those of any JSON string field. */
function candidates(secret: string): Buffer[] {
  const out = [Buffer.from(secret, 'utf8'), Buffer.from(secret, 'base64'), Buffer.from(secret, 'base64url')];
  const json = secret.replace(/^wrapped:v\d+:/, '');
  try {
    const walk = (v: unknown): void => {
      if (typeof v === 'string') out.push(Buffer.from(v, 'utf8'), Buffer.from(v, 'base64'), Buffer.from(v, 'base64url'));
      else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    };
    walk(JSON.parse(json));
  } catch {
    // not JSON
  }
  return out;
}

/** Every Ed25519 private key a thief can parse out of the keychain. */
function signingKeysIn(loot: Array<{ password: string }>): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const { password } of loot) {
    for (const bytes of candidates(password)) {
      try {
        keys.push(createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }));
      } catch {
        // not a key
      }
    }
  }
  return keys;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`stolen laptop with the OS session's keychain, backend on ${engine}`, () => {
    const dir = scratchDir('key-theft');
    const keychain = testKeychain();
    let backend: BackendProcess;
    let d: PasskeyDesktop;
    let deviceId: string;
    /** The real keys, as a passkey unlock unwraps them (positive controls only). */
    let real: { cacheKey: Buffer; signingKey: KeyObject; publicKey: KeyObject };
    let uploadedUpTo: number;
    let lastSeq: number;
    let loot: Array<{ account: string; password: string }>;
    let codes: { prf: string; noPrf: string };

    before(async () => {
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], engine });
      backend.admin(['add-clinician', 'dr.prf', '--name', 'Dr Prf', '--assign-all']);
      backend.admin(['add-clinician', 'dr.noprf', '--name', 'Dr NoPrf', '--assign-all']);
      // Codes made before any request: an admin command blocks this process, and a keep-alive socket the
      // backend closes meanwhile would make the next request fail as "unreachable".
      codes = { prf: backend.admin(['enroll-code', 'dr.prf']), noPrf: backend.admin(['enroll-code', 'dr.noprf']) };
    });
    after(async () => {
      await d?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    test('a PRF-enrolled device works offline, then is locked and stolen: the keychain holds its keys only wrapped', async () => {
      d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
      const created = await d.createPasskey('dr.prf', codes.prf);
      assert.ok(created.prfOutput, 'the authenticator has PRF');
      await d.auth.enrollFinish(created.response, created.prfOutput);
      await d.auth.stopSync();
      const session = d.auth.session()!;
      deviceId = session.profile.profileId;
      // The keys unwrapped with the passkey's PRF output, as the unlock does (the cache key then lives only in the store's worker).
      const prf = Buffer.from(created.prfOutput, 'base64url');
      const unwrapped = await loadDeviceKeys(keychain, deviceId, prf);
      assert.ok(unwrapped.publicKey.equals(session.keys.publicKey), 'the same device key the session holds');
      real = { cacheKey: unwrapped.cacheKey, signingKey: unwrapped.signingKey, publicKey: unwrapped.publicKey };
      const db = await inspectCache(session, keychain, prf);
      uploadedUpTo = db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
      // Work the backend has not seen yet: its audit entries are the ones a thief would like gone.
      const patientId = db.prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
      for (const text of ['Suspected overdose', 'Follow-up needed', 'Referred to psychiatry']) await setProblem(session, { patientId, text, status: 'active' }, new Date());
      lastSeq = db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
      assert.ok(lastSeq >= uploadedUpTo + 3);
      d.auth.lockNow('manual');
      assert.equal(d.auth.session(), null);
      // The lock closes the store in the background: the stolen folder is the one the worker left when it finished.
      await session.close();

      loot = await keytar.findCredentials(keychain.service);
      const accounts = loot.map((l) => l.account);
      assert.ok(accounts.includes(cacheKeyAccount(deviceId)) && accounts.includes(signingKeyAccount(deviceId)), 'the thief sees both key entries');
      for (const account of [cacheKeyAccount(deviceId), signingKeyAccount(deviceId)]) {
        assert.match(loot.find((l) => l.account === account)!.password, /^wrapped:v1:/, `${account} is wrapped`);
      }
      const der = real.signingKey.export({ format: 'der', type: 'pkcs8' });
      const needles = [real.cacheKey, der, der.subarray(der.length - 32)];
      for (const { password } of loot) {
        for (const bytes of candidates(password)) {
          for (const needle of needles) assert.equal(bytes.includes(needle), false, 'no raw key bytes in any keychain secret');
        }
        for (const needle of needles) {
          for (const text of [needle.toString('base64'), needle.toString('hex'), needle.toString('base64url')]) assert.equal(password.includes(text), false);
        }
      }
    });

    test('the thief cannot open the cache with anything the keychain holds', async () => {
      const stolen = join(dir.path, 'stolen-copy');
      cpSync(d.dataDir, stolen, { recursive: true });
      await assert.rejects(
        openCacheSession({ dataDir: stolen, secrets: keychain, actor: 'thief', create: false }),
        (e: unknown) => e instanceof AppError && e.code === 'LOCKED',
      );
      await assert.rejects(loadDeviceKeys(keychain, deviceId), (e: unknown) => e instanceof AppError && e.code === 'LOCKED', 'no key loads without the passkey');
      let tried = 0;
      for (const { password } of loot) {
        for (const bytes of candidates(password)) {
          if (bytes.length !== 32) continue;
          tried++;
          assert.throws(() => openCacheDatabase(join(stolen, 'cache.db'), bytes, { create: false }), (e: unknown) => e instanceof AppError && e.code === 'CACHE_KEY_WRONG');
        }
      }
      assert.ok(tried > 0, 'some 32-byte candidates were tried');
      // Positive control: the real key (held only in memory after a passkey unlock) does open the copy.
      openCacheDatabase(join(stolen, 'cache.db'), real.cacheKey, { create: false }).close();
    });

    test('the thief cannot sign an audit head for the device: deleting un-uploaded entries and re-signing is caught by verify', () => {
      assert.deepEqual(signingKeysIn(loot), [], 'no signing key can be read out of the keychain');
      // Grant the thief more than they can get: the database open (the cache key). Without the signing key it still fails.
      const copy = join(dir.path, 'tamper-copy');
      cpSync(d.dataDir, copy, { recursive: true });
      const db = openCacheDatabase(join(copy, 'cache.db'), real.cacheKey, { create: false });
      try {
        assert.equal(verifyAuditChain(db, real.publicKey, deviceId).ok, true, 'the untouched chain verifies');
        db.prepare('DELETE FROM audit_log WHERE seq > ?').run(uploadedUpTo);
        assert.equal(verifyAuditChain(db, real.publicKey, deviceId).firstBad?.problem, 'truncated', 'deleting alone is seen');
        db.prepare('DELETE FROM audit_heads WHERE seq > ?').run(uploadedUpTo);
        const head = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').pluck().get(uploadedUpTo) as string;
        const message = Buffer.from(auditHeadMessage(deviceId, uploadedUpTo, head));
        const resign = (key: KeyObject) =>
          db.prepare('INSERT OR REPLACE INTO audit_heads (seq, hash, signature, signed_at) VALUES (?, ?, ?, ?)').run(uploadedUpTo, head, sign(null, message, key).toString('base64'), new Date().toISOString());
        resign(generateKeyPairSync('ed25519').privateKey);
        const forged = verifyAuditChain(db, real.publicKey, deviceId);
        assert.equal(forged.ok, false);
        assert.equal(forged.firstBad?.problem, 'bad-head-signature', 'a head signed with any key but the device\'s is refused');
        // Positive control: only the device key (unwrapped by the passkey) could have hidden the deletion.
        resign(real.signingKey);
        assert.equal(verifyAuditChain(db, real.publicKey, deviceId).ok, true);
      } finally {
        db.close();
      }
    });

    test('the thief cannot get a device session: no proof made from the keychain is accepted by the backend', async () => {
      const client = new BackendClient(backend.url);
      const tryKey = async (key: KeyObject) => {
        const { challenge } = await client.deviceOptions({ deviceId });
        const signature = sign(null, Buffer.from(deviceSessionMessage(deviceId, challenge)), key).toString('base64');
        return client.deviceVerify({ deviceId, challenge, signature });
      };
      const keys = [...signingKeysIn(loot), generateKeyPairSync('ed25519').privateKey];
      for (const key of keys) await assert.rejects(tryKey(key), (e: unknown) => e instanceof AppError && e.code === 'SIGN_IN_REFUSED');
      // Positive control: the proof is built right; only the passkey-unwrapped key makes it.
      const { token } = await tryKey(real.signingKey);
      assert.equal(await client.logout(token), true);
      await assert.rejects(client.me(token), (e: unknown) => isSessionEnded(e));
    });

    test('with the passkey the same keychain opens everything, and the un-uploaded entries are all there', async () => {
      const used = await d.usePasskey();
      await d.auth.signInFinish(used.response, used.prfOutput);
      await d.auth.stopSync();
      const session = d.auth.session()!;
      assert.equal((await verifyCache(session)).ok, true);
      const db = await inspectCache(session, keychain, Buffer.from(used.prfOutput!, 'base64url'));
      assert.ok((db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number) >= lastSeq);
      d.auth.lockNow('manual');
      await session.close();
    });

    test('a signing key left unwrapped by an older version is bound to the passkey at the next PRF sign-in (read back)', async () => {
      // The layout before this change: cache key wrapped, signing key raw.
      await keychain.set(signingKeyAccount(deviceId), real.signingKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'));
      assert.ok(signingKeysIn(await keytar.findCredentials(keychain.service)).length > 0, 'the old layout gives the thief the signing key');
      const used = await d.usePasskey();
      await d.auth.signInFinish(used.response, used.prfOutput);
      await d.auth.stopSync();
      const session = d.auth.session()!;
      d.auth.lockNow('manual');
      await session.close();
      const after = await keytar.findCredentials(keychain.service);
      assert.match(after.find((l) => l.account === signingKeyAccount(deviceId))!.password, /^wrapped:v1:/);
      assert.deepEqual(signingKeysIn(after), [], 'migrated: nothing to steal any more');
      const keys = await loadDeviceKeys(keychain, deviceId, Buffer.from(used.prfOutput!, 'base64url'));
      assert.ok(keys.publicKey.equals(real.publicKey), 'the same device key, now wrapped');
      assert.ok(keys.cacheKey.equals(real.cacheKey));
    });

    test('without PRF, the default policy refuses enrollment on the desktop and the backend: nothing in the keychain, nothing on disk, no session', async () => {
      const noPrf = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'no-prf', secrets: keychain, prf: false });
      try {
        const before = (await keytar.findCredentials(keychain.service)).length;
        const created = await noPrf.createPasskey('dr.noprf', codes.noPrf);
        assert.equal(created.prfOutput, undefined);
        await assert.rejects(noPrf.auth.enrollFinish(created.response, created.prfOutput), (e: unknown) => e instanceof AppError && e.code === 'PRF_REQUIRED');
        assert.equal((await keytar.findCredentials(keychain.service)).length, before, 'no keychain entry was ever written');
        assert.equal(existsSync(noPrf.dataDir) ? readdirSync(noPrf.dataDir).length : 0, 0);
        assert.equal((await noPrf.auth.status()).state, 'signed-out');
        // The backend holds the policy too: it refused the passkey itself, so no session was ever made.
        assert.deepEqual(noPrf.backend.tokens, [], 'no session token was issued');
      } finally {
        await noPrf.close();
      }
    });
  });
}
