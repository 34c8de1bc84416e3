/**
 * Test support for the rollback tests: a real backend (Fastify over SQLite
 * or PostgreSQL, in this process, on loopback) with one clinician and the
 * patients they are assigned, its security events captured, and a device
 * cache (real encrypted cache file, real keychain) enrolled with it: keys
 * registered, a session token, patients imported (audited). Helpers write
 * audited work, upload the chain, and read what the backend holds.
 */
import { generateKeyPairSync, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { ROOT } from './cache-cli';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../server/app';
import type { Db } from '../../server/database';
import { RelyingParty } from '../../server/auth/relying-party';
import { addClinician, hashSecret } from '../../server/organisation/organisation';
import { grantRole } from '../../server/authorization/roles';
import { assignPatients } from '../../server/organisation/assignments';
import { setSecurityLogger } from '../../server/monitoring/security-log';
import { verifyDeviceChain } from '../../server/audit/device-chain-verify';
import { ROLLBACK_DETECTED_EXTENSION } from '../../server/audit/audit-ledger';
import { BackendClient } from '../../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../../electron/services/cache-session';
import { importBundle } from '../../electron/services/bundle-import';
import { openChart, searchPatients } from '../../electron/services/patient-records';
import { recordChange } from '../../electron/services/outbox';
import { uploadAuditChain } from '../../electron/services/audit-upload';
import { registerDevice } from './backend-db';
import { freshPostgresDatabase } from './postgres';
import { migrate, openDatabase } from '../../server/database';
import { scratchDir } from './scratch';
import { testKeychain } from './test-keychain';
import { syntheticPatientBundle } from './synthetic-bundles';
import { bundledEntry } from './bundled-entry';

export const CLINICIAN = 'dr.rollback';

export interface RollbackRig {
  engine: 'sqlite' | 'postgres';
  db: Db;
  app: FastifyInstance;
  client: BackendClient;
  url: string;
  keychain: ReturnType<typeof testKeychain>;
  root: string;
  dataDir: string;
  token: string;
  patients: string[];
  securityLines: string[];
  /** Where the backend's database is, for its admin commands. */
  backendDir: string;
  databaseUrl: string | undefined;
  open(): Promise<CacheSession>;
  upload(session: CacheSession): ReturnType<typeof uploadAuditChain>;
  dispose(): Promise<void>;
}

/** Audited reads, a search and a change: `n` rounds of them. */
export async function work(session: CacheSession, patients: string[], n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const patientId = patients[i % patients.length]!;
    await openChart(session, patientId);
    if (i % 3 === 0) await searchPatients(session, 'Synthetic');
    if (i % 4 === 0) {
      await recordChange(session, { resourceType: 'Observation', id: `rb-${tag}-${i}`, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 60 + i, unit: '/min' } });
    }
  }
}

/** The seq of the last entry in the device's chain (0 when empty), read through the session's store. */
export async function localHead(session: CacheSession): Promise<number> {
  return (await session.store.call('auditHead', {}))?.seq ?? 0;
}

export async function startRollbackRig(engine: 'sqlite' | 'postgres', name: string): Promise<RollbackRig> {
  const dir = scratchDir(name);
  const backendDir = join(dir.path, 'backend');
  const pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
  const { db } = openDatabase({ databaseUrl: pg?.url, dataDir: backendDir });
  await migrate(db);
  const close = async () => {
    await db.destroy();
    await pg?.drop();
  };
  const clock = () => new Date();
  const patients = [`${name}-p1`, `${name}-p2`, `${name}-p3`];
  await addClinician(db, CLINICIAN, 'Dr Rollback', clock);
  await assignPatients(db, CLINICIAN, patients);
  const securityLines: string[] = [];
  setSecurityLogger(
    pino(
      { base: { service: 'clinician-backend', log: 'security' } },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          securityLines.push(...chunk.toString().split('\n').filter(Boolean));
          done();
        },
      }),
    ),
  );
  const { privateKey } = generateKeyPairSync('ed25519');
  const receiptKey = { privateKey, publicKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64url') };
  const app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new BackendClient(url);
  const keychain = testKeychain();
  const dataDir = join(dir.path, 'desktop', 'cache');
  const first = await openCacheSession({ dataDir, secrets: keychain, actor: CLINICIAN, create: true });
  let token: string;
  try {
    token = await registerDevice(db, CLINICIAN, first);
    for (const patientId of patients) await importBundle(first, JSON.stringify(syntheticPatientBundle({ patientId, observations: 3 })));
  } finally {
    await first.close();
  }
  return {
    engine,
    db,
    app,
    client,
    url,
    keychain,
    root: dir.path,
    dataDir,
    token,
    patients,
    securityLines,
    backendDir,
    databaseUrl: pg?.url,
    open: () => openCacheSession({ dataDir, secrets: keychain, actor: CLINICIAN, create: false }),
    upload: (session) => uploadAuditChain(session, client, token),
    async dispose() {
      await app.close();
      await close();
      await keychain.cleanup();
      dir.remove();
    },
  };
}

/** What the backend holds of the device's chain: whether it verifies, its entries, and which are flagged as rollbacks. */
export async function backendChain(rig: RollbackRig, deviceId: string): Promise<{ ok: boolean; entries: number; rollbacks: number[]; hashes: Map<number, string>; texts: Map<number, string> }> {
  const report = await verifyDeviceChain(rig.db, deviceId);
  const rows = await rig.db.selectFrom('audit_entries').select(['seq', 'hash', 'entry', 'event']).where('device_id', '=', deviceId).orderBy('seq').execute();
  const rollbacks = rows
    .filter((r) => (JSON.parse(r.event) as { extension: Array<{ url: string }> }).extension.some((x) => x.url === ROLLBACK_DETECTED_EXTENSION))
    .map((r) => Number(r.seq));
  return { ok: report.ok, entries: report.entries, rollbacks, hashes: new Map(rows.map((r) => [Number(r.seq), r.hash])), texts: new Map(rows.map((r) => [Number(r.seq), r.entry])) };
}

/** A privacy officer (another clinician with the role) and a session of the given scope on a device of theirs; returns its token. */
export async function privacyOfficerToken(db: Db, scope: 'full' | 'sync', role = true): Promise<string> {
  const id = `po-${randomBytes(4).toString('hex')}`;
  await addClinician(db, id, 'Privacy Officer', () => new Date());
  if (role) await grantRole(db, id, 'privacy-officer');
  const now = new Date().toISOString();
  const deviceId = randomUUID();
  const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
  await db.insertInto('devices').values({ id: deviceId, clinician_id: id, public_key: publicKey, created_at: now, last_seen_at: now, revoked_at: null }).execute();
  const token = randomBytes(32).toString('base64url');
  await db.insertInto('sessions').values({ token_hash: hashSecret(token), clinician_id: id, device_id: deviceId, created_at: now, expires_at: '2999-01-01T00:00:00.000Z', scope }).execute();
  return token;
}

/** `npm run server -- audit-verify` against the rig's database. */
export function auditVerify(rig: RollbackRig): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [bundledEntry(join(ROOT, 'server', 'main.ts')), 'audit-verify', '--data-dir', rig.backendDir], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: rig.databaseUrl ?? '' },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout };
}
