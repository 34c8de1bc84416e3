/**
 * Benchmark of passkey sign-in and unlock, with real components: Chromium's
 * virtual platform authenticator, the backend on loopback, the keychain and
 * the encrypted cache. Reports the sign-in round trip (with the
 * authenticator's own time apart) on the backend before issue 8 and on this
 * one, in the same run, with the after/before ratio of p50 and p95; unlock
 * time (PRF output to an open cache of 100k resources); and the backend's
 * verifications per second on one core, SQLite and PostgreSQL side by side.
 * Figures only.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openCacheSession } from '../electron/services/cache-session';
import { bindCacheKeyToPasskey, deleteDeviceKeys, dropKeys, loadDeviceKeys } from '../electron/services/device-keys';
import { createOsSecretStore } from '../electron/services/secret-store';
import { migrate, openDatabase } from '../server/database';
import { addClinician, createEnrollmentCode } from '../server/organisation/organisation';
import { RelyingParty } from '../server/auth/relying-party';
import { addWebAuthnHelper, launchChromium, serveRenderer } from '../test/browser/harness';
import { freshPostgresDatabase } from '../test/support/postgres';
import { scratchDir } from '../test/support/scratch';
import { addVirtualAuthenticator } from '../test/support/virtual-authenticator';
import { fillCache } from './cache-bench';
import { ms, ratio, round, stats } from './bench-stats';
import type { BackendVersion, VersionLabel } from './backend-versions';
import { api } from '../shared/backend-api';

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

async function post(url: string, path: string, body: unknown): Promise<Json> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // A refusal (a 429 from a rate limit that should not apply here, say) must fail the bench, not skew it.
  if (!r.ok) throw new Error(`bench: ${path} answered ${r.status}`);
  return (await r.json()) as Json;
}

async function authenticatorPage(browser: Browser, origin: string): Promise<Page> {
  const page = await browser.newPage();
  await addVirtualAuthenticator(page, { prf: true });
  await addWebAuthnHelper(page);
  await page.goto(`${origin}/index.html`);
  return page;
}

/** A backend with an enrolled clinician and device, ready for sign-ins; its own authenticator (a passkey per backend). */
async function enrolledBackend(browser: Browser, origin: string, version: BackendVersion) {
  const page = await authenticatorPage(browser, origin);
  const dir = scratchDir(`bench-signin-${version.label}`);
  const backend = await version.open(dir.path);
  await backend.addClinician('dr.bench', 'Bench');
  const code = await backend.createEnrollmentCode('dr.bench');
  const url = await backend.listen([origin]);
  const dev = device();
  const { options } = await post(url, api.enrollOptions.path, { clinicianId: 'dr.bench', code });
  const created = await ceremony(page, 'createPasskey', options);
  await post(url, api.enrollVerify.path, { clinicianId: 'dr.bench', code, response: (created.result as { response: unknown }).response, device: dev });
  return {
    async signIn() {
      const start = process.hrtime.bigint();
      const begun = await post(url, api.authOptions.path, { clinicianId: 'dr.bench' });
      const used = await ceremony(page, 'usePasskey', begun.options);
      await post(url, api.authVerify.path, { clinicianId: 'dr.bench', deviceId: dev.id, response: (used.result as { response: unknown }).response });
      return { total: ms(start), authenticator: used.authenticatorMs };
    },
    async dispose() {
      await backend.close();
      await page.close();
      dir.remove();
    },
  };
}

/**
 * Sign-in round trip (options, the authenticator, verify and session) on
 * each backend, in-process on loopback over SQLite: warmed up, then one
 * round on each in turn (which goes first alternating), so a shared
 * machine's changing load falls on both alike.
 */
async function signInRoundTrips(browser: Browser, origin: string, versions: BackendVersion[], rounds: number) {
  const backends = [];
  for (const v of versions) backends.push({ label: v.label, backend: await enrolledBackend(browser, origin, v), total: [] as number[], authenticator: [] as number[] });
  try {
    for (const b of backends) for (let i = 0; i < 5; i++) await b.backend.signIn();
    for (let i = 0; i < rounds; i++) {
      for (const b of i % 2 === 0 ? backends : [...backends].reverse()) {
        const t = await b.backend.signIn();
        b.total.push(t.total);
        b.authenticator.push(t.authenticator);
      }
    }
    return Object.fromEntries(
      backends.map((b) => [
        b.label,
        { total: stats(b.total), authenticator: stats(b.authenticator), options_verify_session_only: stats(b.total.map((t, i) => t - b.authenticator[i]!)) },
      ]),
    ) as Partial<Record<VersionLabel, { total: ReturnType<typeof stats>; authenticator: ReturnType<typeof stats>; options_verify_session_only: ReturnType<typeof stats> }>>;
  } finally {
    for (const b of backends) await b.backend.dispose();
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
    await fillCache(first, patients);
    await first.close();
    // The cache key lives only in the store's worker while a session is open: bound from the keychain's copy.
    const keys = await loadDeviceKeys(secrets, profileId);
    try {
      await bindCacheKeyToPasskey(secrets, profileId, keys.cacheKey, prf, 'bench-credential');
    } finally {
      dropKeys(keys);
    }
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = process.hrtime.bigint();
      const s = await openCacheSession({ dataDir, secrets, actor: 'bench', create: false, prfOutput: prf });
      // A first read through the store (its worker opened the file, checked the chain's tail and the rollback guard).
      await s.store.call('auditHead', {});
      samples.push(ms(start));
      await s.close();
    }
    return { resources: patients * 101, ...stats(samples) };
  } finally {
    await first.close();
    await deleteDeviceKeys(secrets, profileId);
    await secrets.delete(`${profileId}/passkeys`);
    dir.remove();
  }
}

export async function runAuthBench(quick: boolean, versions: BackendVersion[]): Promise<Record<string, unknown>> {
  const [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  try {
    const signIn = await signInRoundTrips(browser, renderer.origin, versions, quick ? 20 : 150);
    const page = await authenticatorPage(browser, renderer.origin);
    const n = quick ? 100 : 300;
    const sqlite = await verificationsPerSecond(page, renderer.origin, 'sqlite', n);
    const postgres = await verificationsPerSecond(page, renderer.origin, 'postgres', n);
    const unlock = await unlockTime(quick ? 100 : 1000, quick ? 10 : 30);
    const p95Ratio = ratio(signIn.after?.total.p95_ms, signIn.before?.total.p95_ms);
    return {
      sign_in_round_trip: {
        ...signIn,
        ratio_after_to_before: { p50: ratio(signIn.after?.total.p50_ms, signIn.before?.total.p50_ms), p95: p95Ratio },
      },
      unlock,
      backend_verifications: { sqlite, postgres, ratio_sqlite_to_postgres: round(sqlite.per_s / postgres.per_s) },
      targets: {
        unlock_p95_under_150ms: unlock.p95_ms < 150,
        sign_in_p95_within_10_percent_of_before: p95Ratio === null ? 'no baseline' : p95Ratio <= 1.1,
      },
    };
  } finally {
    await browser.close();
    await renderer.close();
  }
}
