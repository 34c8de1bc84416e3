/**
 * Benchmark of concurrent pushes at the backend on loopback: 20 devices x
 * 1,000 new changes each, 50 changes a request, every device pushing its
 * requests one after another (as its sync worker does) and all devices at
 * once; SQLite and PostgreSQL side by side; the backend of main before
 * issue 9's backend work (commit 499c5fb, a git worktree under .tmp/) and
 * this work tree, alternating. Reports changes/s, p50/p95 request latency,
 * and checks every change landed once (one stored answer and one resource
 * per key). On PostgreSQL it also says where the time goes: database time
 * per kind of statement (Kysely's query log, on a separate profiled run)
 * and a run with synchronous_commit off (measured only; the backend never
 * ships that durability downgrade). Figures only: never imported by the
 * app, the backend or the tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect, SqliteDialect, sql, type LogEvent } from 'kysely';
import pg from 'pg';
import SQLite from 'better-sqlite3';
import { buildApp } from '../server/app';
import { RelyingParty } from '../server/auth/relying-party';
import { migrate, type Db, type Tables } from '../server/database';
import { assignPatients } from '../server/organisation/assignments';
import { addClinician } from '../server/organisation/organisation';
import { loadBundles } from '../server/sync/patient-store';
import { PUSH_PATH, type Change } from '../shared/sync-api';
import type { CacheSession } from '../electron/services/cache-session';
import { registerDevice } from '../test/support/backend-db';
import { freshPostgresDatabase } from '../test/support/postgres';
import { loadReceiptKey } from '../test/support/receipt-key';
import { scratchDir } from '../test/support/scratch';
import { syntheticPatientBundle } from '../test/support/synthetic-bundles';
import { median, ms, percentile, round } from './bench-stats';

/** main before issue 9's backend work: the same layout, so the same calls. */
export const PUSH_BASELINE_COMMIT = '499c5fb';

type Engine = 'sqlite' | 'postgres';
type Clock = () => Date;
const clock: Clock = () => new Date();
const UNTHROTTLED = { signInPerClinician: 1_000_000, enrollPerClinician: 1_000_000, devicePerDevice: 1_000_000, perIp: 1_000_000, uploadsPerDevice: 1_000_000, windowMs: 60_000 };

/* eslint-disable @typescript-eslint/no-explicit-any -- the baseline's modules are loaded at run time from its worktree */
interface ServerModules {
  buildApp: (deps: any) => FastifyInstance;
  RelyingParty: new (db: any, config: any, clock: Clock) => unknown;
  migrate: (db: any) => Promise<void>;
  addClinician: (db: any, id: string, name: string, clock: Clock) => Promise<void>;
  assignPatients: (db: any, clinicianId: string, ids: string[], clock: Clock) => Promise<void>;
  loadBundles: (db: any, files: string[]) => Promise<string[]>;
  registerDevice: (db: any, clinicianId: string, device: CacheSession) => Promise<string>;
}

const current: ServerModules = { buildApp: buildApp as any, RelyingParty: RelyingParty as any, migrate: migrate as any, addClinician, assignPatients: (db, c, ids, k) => assignPatients(db, c, ids, k), loadBundles, registerDevice };

/** The baseline's worktree under .tmp/ (made here, as run-bench.sh makes issue 8's), or null when the commit is not in this clone. */
function baselineRoot(): string | null {
  const root = join(process.cwd(), '.tmp', 'bench-push-baseline');
  try {
    const want = execFileSync('git', ['rev-parse', '--verify', '-q', `${PUSH_BASELINE_COMMIT}^{commit}`], { encoding: 'utf8' }).trim();
    const have = existsSync(root) ? execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim() : '';
    if (have !== want) {
      execFileSync('git', ['worktree', 'remove', '--force', root], { stdio: 'ignore' });
    }
  } catch {
    // not there yet, or not a worktree
  }
  try {
    if (!existsSync(join(root, 'server', 'app.ts'))) {
      mkdirSync(join(process.cwd(), '.tmp'), { recursive: true });
      execFileSync('git', ['worktree', 'prune'], { stdio: 'ignore' });
      execFileSync('git', ['worktree', 'add', '--detach', root, PUSH_BASELINE_COMMIT], { stdio: 'ignore' });
    }
    if (!existsSync(join(root, 'node_modules'))) symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
    return root;
  } catch {
    return null;
  }
}

async function baselineModules(root: string): Promise<ServerModules> {
  const load = (path: string): Promise<any> => import(pathToFileURL(join(root, path)).href);
  const [app, rp, database, org, assignments, store, support] = await Promise.all([
    load('server/app.ts'),
    load('server/auth/relying-party.ts'),
    load('server/database.ts'),
    load('server/organisation/organisation.ts'),
    load('server/organisation/assignments.ts'),
    load('server/sync/patient-store.ts'),
    load('test/support/backend-db.ts'),
  ]);
  return {
    buildApp: app.buildApp,
    RelyingParty: rp.RelyingParty,
    migrate: database.migrate,
    addClinician: org.addClinician,
    assignPatients: assignments.assignPatients,
    loadBundles: store.loadBundles,
    registerDevice: support.registerDevice,
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

interface Scale {
  devices: number;
  changesPerDevice: number;
  perRequest: number;
}

interface RunFigures {
  changes_per_s: number;
  p50_ms: number;
  p95_ms: number;
  every_change_once: boolean;
}

/** Per kind of statement: how many and how long (ms), from Kysely's query log. */
type Profile = Map<string, { n: number; ms: number }>;

function statementKind(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim().toLowerCase();
  const table = /(?:from|into|update) "?([a-z_]+)"?/.exec(s)?.[1] ?? '';
  const verb = s.split(' ')[0] ?? '';
  if (['begin', 'commit', 'rollback', 'savepoint', 'release'].includes(verb)) return verb;
  return `${verb} ${table}`.trim();
}

/** A migrated database of the engine, opened with a query log when profiling. */
async function openDb(engine: Engine, dataDir: string, profile: Profile | null, mods: ServerModules): Promise<{ db: Db; close(): Promise<void>; url?: string }> {
  const log = profile
    ? (e: LogEvent) => {
        const kind = statementKind(e.query.sql);
        const p = profile.get(kind) ?? { n: 0, ms: 0 };
        p.n++;
        p.ms += e.queryDurationMillis;
        profile.set(kind, p);
      }
    : undefined;
  if (engine === 'postgres') {
    const database = await freshPostgresDatabase();
    const pool = new pg.Pool({ connectionString: database.url, max: 8 });
    pool.on('error', () => undefined);
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) }) as Db;
    await mods.migrate(db);
    return { db, url: database.url, close: async () => { await db.destroy(); await database.drop(); } };
  }
  mkdirSync(dataDir, { recursive: true });
  const file = new SQLite(join(dataDir, 'backend.db'));
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = NORMAL');
  file.pragma('foreign_keys = ON');
  file.pragma('busy_timeout = 5000');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: file }), ...(log ? { log } : {}) }) as Db;
  await mods.migrate(db);
  return { db, close: () => db.destroy() };
}

/** One run: a fresh backend, `devices` devices pushing at once; latency per request, throughput overall, and the once-check. */
async function pushRun(mods: ServerModules, engine: Engine, scale: Scale, options: { profile?: Profile; synchronousCommitOff?: boolean } = {}): Promise<RunFigures> {
  const dir = scratchDir(`bench-push-${engine}`);
  const opened = await openDb(engine, join(dir.path, 'backend'), options.profile ?? null, mods);
  const { db } = opened;
  let app: FastifyInstance | null = null;
  try {
    if (options.synchronousCommitOff && opened.url) {
      const name = new URL(opened.url).pathname.slice(1);
      await sql.raw(`ALTER DATABASE ${name} SET synchronous_commit = off`).execute(db);
    }
    const bundleDir = join(dir.path, 'bundles');
    mkdirSync(bundleDir);
    const patients = Array.from({ length: scale.devices }, (_, d) => `push-p${d}`);
    const { writeFileSync } = await import('node:fs');
    const files = patients.map((p) => {
      const f = join(bundleDir, `${p}.json`);
      writeFileSync(f, JSON.stringify(syntheticPatientBundle({ patientId: p, observations: 1 })));
      return f;
    });
    await mods.loadBundles(db, files);
    await mods.addClinician(db, 'dr.push', 'Push', clock);
    await mods.assignPatients(db, 'dr.push', patients, clock);
    const tokens: string[] = [];
    for (let d = 0; d < scale.devices; d++) {
      const keys = generateKeyPairSync('ed25519');
      tokens.push(await mods.registerDevice(db, 'dr.push', { keys: { publicKey: keys.publicKey }, profile: { profileId: randomUUID() } } as unknown as CacheSession));
    }
    const rp = new mods.RelyingParty(db, { rpId: 'localhost', rpName: 'Bench', origins: ['http://localhost'] }, clock);
    app = mods.buildApp({ db, rp, clock, receiptKey: loadReceiptKey(join(dir.path, 'keys')), rateLimits: UNTHROTTLED, timeouts: { requestMs: 600_000, idleMs: 600_000 } });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });

    // Every device's requests made up front, so the timed part is the pushing alone.
    const requests = Array.from({ length: scale.devices }, (_, d) =>
      Array.from({ length: scale.changesPerDevice / scale.perRequest }, (_, r) =>
        JSON.stringify({
          changes: Array.from({ length: scale.perRequest }, (_, i): Change => {
            const id = `push-${d}-${r}-${i}`;
            return { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patients[d]}` }, valueQuantity: { value: 70, unit: '/min' } } };
          }),
        }),
      ),
    );
    const latencies: number[] = [];
    let applied = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      requests.map(async (bodies, d) => {
        for (const body of bodies) {
          const t = process.hrtime.bigint();
          const r = await fetch(url + PUSH_PATH, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[d]}` }, body });
          const reply = (await r.json()) as { results?: Array<{ status: string }> };
          latencies.push(ms(t));
          if (r.status !== 200) throw new Error(`push answered ${r.status}`);
          applied += reply.results!.filter((x) => x.status === 'applied').length;
        }
      }),
    );
    const seconds = ms(started) / 1000;
    const total = scale.devices * scale.changesPerDevice;
    const answers = await db.selectFrom('applied_changes').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const rows = await db.selectFrom('resources').select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('version_id').as('v')]).where('id', 'like', 'push-%-%-%').executeTakeFirstOrThrow();
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      changes_per_s: Math.round(total / seconds),
      p50_ms: round(percentile(sorted, 50), 1),
      p95_ms: round(percentile(sorted, 95), 1),
      every_change_once: applied === total && Number(answers.n) === total && Number(rows.n) === total && Number(rows.v) === 1,
    };
  } finally {
    await app?.close();
    await opened.close();
    dir.remove();
  }
}

export async function runPushBench(quick: boolean, repetitions: number): Promise<Record<string, unknown>> {
  const scale: Scale = { devices: 20, changesPerDevice: quick ? 100 : 1000, perRequest: 50 };
  const root = baselineRoot();
  const versions: Array<{ label: 'before' | 'after'; source: string; mods: ServerModules }> = [];
  if (root) versions.push({ label: 'before', source: PUSH_BASELINE_COMMIT, mods: await baselineModules(root) });
  versions.push({ label: 'after', source: 'work tree', mods: current });

  const out: Record<string, unknown> = { scale: { ...scale, total_changes: scale.devices * scale.changesPerDevice }, baseline: root ? PUSH_BASELINE_COMMIT : `commit ${PUSH_BASELINE_COMMIT} not available: this tree only` };
  for (const engine of ['sqlite', 'postgres'] as const) {
    const runs = new Map<string, RunFigures[]>(versions.map((v) => [v.label, []]));
    for (let r = 0; r < repetitions; r++) {
      const order = r % 2 === 0 ? versions : [...versions].reverse();
      for (const v of order) {
        const f = await pushRun(v.mods, engine, scale);
        process.stderr.write(`bench: push ${engine} run ${r + 1} ${v.label}: ${JSON.stringify(f)}\n`);
        runs.get(v.label)!.push(f);
      }
    }
    const summary: Record<string, unknown> = {};
    for (const v of versions) {
      const fs = runs.get(v.label)!;
      summary[v.label] = {
        source: v.source,
        changes_per_s: median(fs.map((f) => f.changes_per_s)),
        p95_ms: median(fs.map((f) => f.p95_ms)),
        p50_ms: median(fs.map((f) => f.p50_ms)),
        every_change_once: fs.every((f) => f.every_change_once),
        runs: fs,
      };
    }
    const after = summary.after as { changes_per_s: number };
    const before = summary.before as { changes_per_s: number } | undefined;
    summary.ratio_after_to_before_throughput = before ? round(after.changes_per_s / before.changes_per_s, 3) : null;
    out[engine] = summary;
  }

  // Where PostgreSQL's time goes: database time per kind of statement, on this tree, one profiled run.
  const profile: Profile = new Map();
  const profiled = await pushRun(current, 'postgres', scale, { profile });
  const totalDbMs = [...profile.values()].reduce((a, p) => a + p.ms, 0);
  const total = scale.devices * scale.changesPerDevice;
  out.postgres_where_time_goes = {
    note: 'database time summed over 8 pooled connections (statements overlap); per change = total / changes',
    profiled_run: profiled,
    statements: Object.fromEntries(
      [...profile.entries()]
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([kind, p]) => [kind, { count: p.n, total_ms: Math.round(p.ms), per_change_us: Math.round((p.ms * 1000) / total), mean_us: Math.round((p.ms * 1000) / p.n) }]),
    ),
    database_ms_per_change: round(totalDbMs / total, 3),
  };
  // synchronous_commit off: what waiting for the WAL flush at each commit costs (measured, never shipped).
  out.postgres_synchronous_commit_off = { measured_only: true, ...(await pushRun(current, 'postgres', scale, { synchronousCommitOff: true })) };
  return out;
}
