/**
 * The two backends a benchmark run compares: "before" (the main before issue
 * 8, checked out by run-bench.sh as a git worktree under .tmp/ and imported
 * from there) and "after" (this work tree). Both are driven through one
 * small interface, because their module paths differ (the server was flat
 * before it was split into feature folders) and the new one takes rate
 * limits, set far above what a benchmark sends so they never throttle it.
 * Benchmarks only: never imported by the app, the backend or the tests.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { CacheSession } from '../electron/services/cache-session';
import { buildApp } from '../server/app';
import { loadReceiptKey } from '../test/support/receipt-key';
import { RelyingParty } from '../server/auth/relying-party';
import type { RateLimits } from '../server/auth/front-door';
import { assignPatients } from '../server/organisation/assignments';
import { addClinician, createEnrollmentCode } from '../server/organisation/organisation';
import { loadBundles } from '../server/sync/patient-store';
import type { Db } from '../server/database';
import { openBackendDb, registerDevice } from '../test/support/backend-db';

export type VersionLabel = 'before' | 'after';

/** The main before issue 8 (authorization, server-side audit, sessions and front door). */
export const BASELINE_COMMIT = '709912e';

/** One backend, ready to be set up and served on loopback (SQLite in `dataDir`). */
export interface BenchBackend {
  db: Db;
  loadBundles(files: string[]): Promise<string[]>;
  addClinician(id: string, name: string): Promise<void>;
  assignPatients(clinicianId: string, patientIds: string[]): Promise<void>;
  createEnrollmentCode(clinicianId: string): Promise<string>;
  /** A device as enrollment leaves it (public key registered, a live session); returns the session token. */
  registerDevice(clinicianId: string, device: CacheSession): Promise<string>;
  /** Builds the app (relying party for `origins`) and listens on loopback; returns its URL. */
  listen(origins: string[]): Promise<string>;
  close(): Promise<void>;
}

export interface BackendVersion {
  label: VersionLabel;
  /** Which code: the commit for "before", "work tree" for "after". */
  source: string;
  open(dataDir: string): Promise<BenchBackend>;
}

type Clock = () => Date;
const clock: Clock = () => new Date();

/** Rate limits far above any benchmark's request rate: the figures measure the work, not the throttle. */
const UNTHROTTLED: RateLimits = { signInPerClinician: 1_000_000, enrollPerClinician: 1_000_000, devicePerDevice: 1_000_000, perIp: 1_000_000, uploadsPerDevice: 1_000_000, windowMs: 60_000 };

/** This work tree's backend, with statically typed imports (a changed signature fails the typecheck). */
const after: BackendVersion = {
  label: 'after',
  source: 'work tree',
  async open(dataDir) {
    const { db, close } = await openBackendDb('sqlite', dataDir);
    let app: FastifyInstance | null = null;
    return {
      db,
      loadBundles: (files) => loadBundles(db, files),
      addClinician: (id, name) => addClinician(db, id, name, clock),
      assignPatients: (clinicianId, ids) => assignPatients(db, clinicianId, ids, clock),
      createEnrollmentCode: (clinicianId) => createEnrollmentCode(db, clinicianId, clock),
      registerDevice: (clinicianId, device) => registerDevice(db, clinicianId, device),
      async listen(origins) {
        const rp = new RelyingParty(db, { rpId: 'localhost', rpName: 'Bench', origins }, clock);
        app = buildApp({ db, rp, clock, receiptKey: loadReceiptKey(dataDir), rateLimits: UNTHROTTLED });
        return app.listen({ port: 0, host: '127.0.0.1' });
      },
      async close() {
        await app?.close();
        await close();
      },
    };
  },
};

/* eslint-disable @typescript-eslint/no-explicit-any -- the baseline's modules are loaded at run time from its worktree */
/** The baseline's backend, imported from its worktree (flat server/ folder, its own test support for the database). */
function baseline(root: string): BackendVersion {
  const load = (path: string): Promise<any> => import(pathToFileURL(join(root, path)).href);
  return {
    label: 'before',
    source: BASELINE_COMMIT,
    async open(dataDir) {
      const [appM, ledger, rpM, org, store, support] = await Promise.all([
        load('server/app.ts'),
        load('server/audit-ledger.ts'),
        load('server/relying-party.ts'),
        load('server/organisation.ts'),
        load('server/patient-store.ts'),
        load('test/support/backend-db.ts'),
      ]);
      const { db, close } = (await support.openBackendDb('sqlite', dataDir)) as { db: any; close(): Promise<void> };
      let app: FastifyInstance | null = null;
      return {
        db,
        loadBundles: (files) => store.loadBundles(db, files),
        addClinician: (id, name) => org.addClinician(db, id, name, clock),
        assignPatients: (clinicianId, ids) => org.assignPatients(db, clinicianId, ids),
        createEnrollmentCode: (clinicianId) => org.createEnrollmentCode(db, clinicianId, clock),
        registerDevice: (clinicianId, device) => support.registerDevice(db, clinicianId, device),
        async listen(origins) {
          const rp = new rpM.RelyingParty(db, { rpId: 'localhost', rpName: 'Bench', origins }, clock);
          app = appM.buildApp({ db, rp, clock, receiptKey: ledger.loadReceiptKey(dataDir) }) as FastifyInstance;
          return app.listen({ port: 0, host: '127.0.0.1' });
        },
        async close() {
          await app?.close();
          await close();
        },
      };
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * The versions to compare: "before" when run-bench.sh prepared its worktree
 * (BENCH_BASELINE_ROOT), then "after". Without the baseline, "after" alone,
 * and the reason why.
 */
export function backendVersions(): { versions: BackendVersion[]; baselineMissing: string | null } {
  const root = process.env.BENCH_BASELINE_ROOT;
  if (!root) return { versions: [after], baselineMissing: 'BENCH_BASELINE_ROOT not set (run through npm run bench)' };
  if (!existsSync(join(root, 'server', 'app.ts'))) return { versions: [after], baselineMissing: `no baseline checkout at ${root}` };
  return { versions: [baseline(root), after], baselineMissing: null };
}
