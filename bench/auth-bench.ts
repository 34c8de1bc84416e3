/**
 * Benchmark of passkey sign-in and unlock, with real components: Chromium's
 * virtual platform authenticator, the backend process on loopback, the
 * keychain and the encrypted cache. Reports the sign-in round trip with the
 * authenticator's own time apart, unlock time (PRF output to an open cache
 * of 100k resources), and the backend's verifications per second on one
 * core, SQLite and PostgreSQL side by side. Figures only.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession } from '../electron/services/cache-session';
import { bindCacheKeyToPasskey, deleteDeviceKeys } from '../electron/services/device-keys';
import { createOsSecretStore } from '../electron/services/secret-store';
import { migrate, openDatabase } from '../server/database';
import { addClinician, createEnrollmentCode } from '../server/organisation/organisation';
import { RelyingParty } from '../server/auth/relying-party';
import { addWebAuthnHelper, launchChromium, serveRenderer } from '../test/browser/harness';
import { startBackend } from '../test/support/backend-process';
import { freshPostgresDatabase } from '../test/support/postgres';
import { scratchDir } from '../test/support/scratch';
import { addVirtualAuthenticator } from '../test/support/virtual-authenticator';
import { fillCache } from './cache-bench';
import { ms, round, stats } from './bench-stats';

type Json = Record<string, unknown>;

async function ceremony(page: Page, kind: 'createPasskey' | 'usePasskey', options: unknown): Promise<{ result: Json; authenticatorMs: number }> {
  return page.evaluate(
    async ([k, o]) => {
      const w = (globalThis as never as { __webauthn: Record<string, (o: unknown) => Promise<Json>> }).__webauthn;
      const t = performance.now();
      const result = await w[k as string]!(o);
      return { result, authenticatorMs: performance.now() - t };
    },
    [kind, options] as const,
  );
}

const device = () => ({ id: randomUUID(), publicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64url') });

async function signInRoundTrip(page: Page, origin: string, rounds: number) {
  const dir = scratchDir('bench-backend');
  const backend = await startBackend({ dataDir: dir.path, origins: [origin] });
  try {
    backend.admin(['add-clinician', 'dr.bench', '--name', 'Bench']);
    const code = backend.admin(['enroll-code', 'dr.bench']);
    const client = new BackendClient(backend.url);
    const dev = device();
    const { options } = await client.enrollOptions({ clinicianId: 'dr.bench', code });
    const created = await ceremony(page, 'createPasskey', options);
    await client.enrollVerify({ clinicianId: 'dr.bench', code, response: (created.result as { response: never }).response, device: dev });
    const total: number[] = [];
    const authenticator: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = process.hrtime.bigint();
      const begun = await client.authOptions({ clinicianId: 'dr.bench' });
      const used = await ceremony(page, 'usePasskey', begun.options);
      await client.authVerify({ clinicianId: 'dr.bench', deviceId: dev.id, response: (used.result as { response: never }).response });
      total.push(ms(start));
      authenticator.push(used.authenticatorMs);
    }
    const withoutAuthenticator = total.map((t, i) => t - authenticator[i]!);
    return { total: stats(total), authenticator: stats(authenticator), options_verify_session_only: stats(withoutAuthenticator) };
  } finally {
    await backend.stop();
    dir.remove();
  }
}

async function verificationsPerSecond(page: Page, origin: string, engine: 'sqlite' | 'postgres', n: number) {
  const dir = scratchDir('bench-rp');
  const pgdb = engine === 'postgres' ? await freshPostgresDatabase() : null;
  const { db } = openDatabase({ databaseUrl: pgdb?.url, dataDir: dir.path });
  try {
    await migrate(db);
    const clock = () => new Date();
    await addClinician(db, 'dr.bench', 'Bench', clock);
    const rp = new RelyingParty(db, { rpId: 'localhost', rpName: 'Bench', origins: [origin] }, clock);
    const code = await createEnrollmentCode(db, 'dr.bench', clock);
    const dev = device();
    const created = await ceremony(page, 'createPasskey', await rp.registrationOptions('dr.bench', code));
    await rp.registrationVerify({ clinicianId: 'dr.bench', code, response: (created.result as { response: never }).response, device: dev });
    // Assertions first (the authenticator is not what is measured), then verify them back to back.
    const responses: never[] = [];
    for (let i = 0; i < n; i++) {
      const used = await ceremony(page, 'usePasskey', await rp.authenticationOptions('dr.bench'));
      responses.push((used.result as { response: never }).response);
    }
    const start = process.hrtime.bigint();
    for (const response of responses) await rp.authenticationVerify({ clinicianId: 'dr.bench', deviceId: dev.id, response });
    const seconds = ms(start) / 1000;
    return { verifications: n, per_s: Math.round(n / seconds) };
  } finally {
    await db.destroy();
    await pgdb?.drop();
    dir.remove();
  }
}

async function unlockTime(patients: number, rounds: number) {
  const dir = scratchDir('bench-unlock');
  const secrets = createOsSecretStore(`org.clinician-desktop.bench.unlock.${process.pid}`);
  const dataDir = join(dir.path, 'cache');
  const prf = randomBytes(32);
  const first = await openCacheSession({ dataDir, secrets, actor: 'bench', create: true });
  const profileId = first.profile.profileId;
  try {
    fillCache(first, patients);
    await bindCacheKeyToPasskey(secrets, profileId, first.keys.cacheKey, prf, 'bench-credential');
    first.close();
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = process.hrtime.bigint();
      const s = await openCacheSession({ dataDir, secrets, actor: 'bench', create: false, prfOutput: prf });
      s.db.prepare('SELECT count(*) FROM patients').get();
      samples.push(ms(start));
      s.close();
    }
    return { resources: patients * 101, ...stats(samples) };
  } finally {
    first.close();
    await deleteDeviceKeys(secrets, profileId);
    await secrets.delete(`${profileId}/passkeys`);
    dir.remove();
  }
}

export async function runAuthBench(quick: boolean): Promise<Record<string, unknown>> {
  const [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  try {
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, { prf: true });
    await addWebAuthnHelper(page);
    await page.goto(`${renderer.origin}/index.html`);
    const signIn = await signInRoundTrip(page, renderer.origin, quick ? 15 : 40);
    const n = quick ? 100 : 300;
    const sqlite = await verificationsPerSecond(page, renderer.origin, 'sqlite', n);
    const postgres = await verificationsPerSecond(page, renderer.origin, 'postgres', n);
    const unlock = await unlockTime(quick ? 100 : 1000, quick ? 10 : 30);
    return {
      sign_in_round_trip: signIn,
      unlock,
      backend_verifications: { sqlite, postgres, ratio_sqlite_to_postgres: round(sqlite.per_s / postgres.per_s) },
      targets: { unlock_p95_under_150ms: unlock.p95_ms < 150 },
    };
  } finally {
    await browser.close();
    await renderer.close();
  }
}
