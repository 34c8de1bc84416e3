/**
 * The backend's database: one Kysely schema and one set of queries over
 * either an embedded SQLite file (no configuration) or PostgreSQL
 * (DATABASE_URL). Migrations use Kysely's portable schema builder so both
 * engines get the same tables. Never build SQL from request text.
 *
 * PostgreSQL may restart under a running backend: the pool's and every
 * client's 'error' events are handled (logged by code, never by message),
 * a broken client leaves the pool, and a connection that cannot be made is
 * tried again for a short while (nothing was sent, so that is always safe;
 * retrying work on a connection that died is ./database-retry's rule).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { CompiledQuery, Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, sql, type DatabaseConnection, type Driver, type Generated, type PostgresPool } from 'kysely';
import { errorCodeOf, isConnectionError } from './database-retry';
import { withStatementCache } from './sqlite-statement-cache';
import { operationsEvent } from './monitoring/operations-log';
import { migrateAuthorization, type AuthorizationTables } from './authorization/authorization-schema';
import { migrateAuditFlags, migrateAuditLedger, type AuditLedgerTables } from './audit/audit-schema';
import { migrateSessions, migrateUsedDecoyChallenges, type SessionTables } from './auth/session-schema';
import { migrateSignaling, type SignalingTables } from './signaling/signaling-schema';
import { migratePrivacy, type PrivacyTables } from './privacy/privacy-schema';
import { migratePrivacyRota, type RotaTables } from './privacy/rota';
import { migrateGlass, type GlassTables } from './glass/glass-schema';
import { migrateChangeFeedIndex } from './sync/change-feed-schema';

/** Each feature's own tables are declared beside it (authorization/, audit/, auth/, signaling/). */
export interface Tables extends AuthorizationTables, AuditLedgerTables, SessionTables, SignalingTables, PrivacyTables, RotaTables, GlassTables {
  clinicians: { id: string; display_name: string; created_at: string; revoked_at: string | null };
  resources: { resource_type: string; id: string; patient_id: string | null; json: string; version_id: Generated<number>; change_seq: Generated<number> };
  counters: { name: string; value: number };
  applied_changes: { device_id: string; idempotency_key: string; result: string; created_at: string };
  audit_entries: { device_id: string; seq: number; entry: string; prev_hash: string; hash: string; patient_id: string | null; event: string };
  assignments: { clinician_id: string; patient_id: string };
  enrollment_codes: { code_hash: string; clinician_id: string; created_at: string; expires_at: string; used_at: string | null };
  challenges: { challenge: string; purpose: string; clinician_id: string; created_at: string; expires_at: string; used_at: string | null };
  credentials: {
    id: string;
    clinician_id: string;
    public_key: string;
    counter: number;
    transports: string;
    prf: number;
    created_at: string;
    last_used_at: string | null;
    revoked_at: string | null;
  };
  devices: { id: string; clinician_id: string; public_key: string; created_at: string; last_seen_at: string | null; revoked_at: string | null };
  // sessions: declared with its binding and expiry columns in ./auth/session-schema.ts
  settings: { key: string; value: string };
  migrations: { version: Generated<number>; applied_at: string };
}

export type Db = Kysely<Tables>;
export type Engine = 'sqlite' | 'postgres';

export interface OpenedDb {
  db: Db;
  engine: Engine;
}

/** How long a new connection is tried again while PostgreSQL refuses it (restarting): nothing was sent yet. */
const CONNECT_RETRY_MS = 2000;

/**
 * A pg pool that outlives the server: 'error' on the pool (an idle client
 * lost) and on each client (a client lost while checked out between
 * queries, which pg would otherwise throw at the process) is logged by
 * code; connecting is retried for CONNECT_RETRY_MS while the connection
 * cannot be made at all.
 */
function resilientPool(connectionString: string): PostgresPool {
  const pool = new pg.Pool({ connectionString, max: 8, connectionTimeoutMillis: 5000, keepAlive: true });
  const lost = (err: Error) => {
    const code = errorCodeOf(err);
    operationsEvent('database-connection-lost', code ? { code } : {});
  };
  pool.on('error', lost);
  pool.on('connect', (client) => client.on('error', lost));
  const wrapped: PostgresPool = {
    // Kysely's driver reads these for its query-cancel connection.
    Client: pg.Client as unknown as PostgresPool['Client'],
    options: pool.options,
    async connect() {
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.connect();
        } catch (err) {
          if (!isConnectionError(err) || Date.now() - started > CONNECT_RETRY_MS) throw err;
          await delay(Math.min(250, 25 * 2 ** (attempt - 1)));
        }
      }
    },
    end: () => pool.end(),
  };
  return wrapped;
}

/**
 * SQLite transactions BEGIN IMMEDIATE: the write lock is taken at the start,
 * where busy_timeout waits for another process's writer. A deferred
 * transaction that read first gets SQLITE_BUSY at once when it upgrades to
 * writing (the busy handler is not used then), which failed pushes while an
 * admin command or backup tool wrote. This process has one connection, so
 * taking the lock early costs no concurrency here.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/**
 * Pages left in backend.db-wal before a commit copies them into backend.db
 * (SQLite's default is 1,000, 4 MiB). A push of 500 creates dirties index
 * pages all over (each patient's records, and its answers, whose keys were
 * random before devices made them time-ordered), and at a million records a
 * checkpoint every few pushes wrote the same pages into the file again and
 * again: half of a push's time. At 10,000 (40 MiB) a page many pushes dirty
 * is copied once per checkpoint: 116 to 80 µs per change (in process, 40,000
 * creates onto 1M records of 2,000 patients), and the commit that
 * checkpoints took 102 ms at most against 77. A reader holding the database
 * open (a backup tool) keeps a checkpoint from restarting the WAL, which then
 * grows past these 40 MiB until the reader lets go.
 */
export const SQLITE_WAL_CHECKPOINT_PAGES = 10_000;
/** The WAL file is cut back to this after a checkpoint (SQLite otherwise leaves it at its largest). */
export const SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024;

export function openDatabase(options: { databaseUrl?: string | undefined; dataDir: string }): OpenedDb {
  if (options.databaseUrl) {
    return { db: new Kysely<Tables>({ dialect: new PostgresDialect({ pool: resilientPool(options.databaseUrl) }) }), engine: 'postgres' };
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = new SQLite(join(options.dataDir, 'backend.db'));
  file.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before its answer goes out. A device removes a change from its outbox once the
  // backend answered it applied, so a commit lost to a power cut (NORMAL's risk in WAL mode) would lose the
  // clinician's work for good. One flush per push: no difference measured (in process, 40,000 creates in pushes of 500).
  file.pragma('synchronous = FULL');
  file.pragma('foreign_keys = ON');
  file.pragma('busy_timeout = 5000');
  file.pragma(`wal_autocheckpoint = ${SQLITE_WAL_CHECKPOINT_PAGES}`);
  file.pragma(`journal_size_limit = ${SQLITE_WAL_LIMIT_BYTES}`);
  return { db: new Kysely<Tables>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(file) }) }), engine: 'sqlite' };
}

/** True when the database answers a trivial query within `timeoutMs` (for /healthz; never says why not). */
export async function databaseUp(db: Db, timeoutMs = 2000): Promise<boolean> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      sql`select 1`.execute(db).then(() => true, () => false),
      delay(timeoutMs, false, { signal: ac.signal }).catch(() => false),
    ]);
  } finally {
    ac.abort();
  }
}

const MIGRATIONS: Array<(db: Db) => Promise<void>> = [
  async (db) => {
    await db.schema
      .createTable('clinicians')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema
      .createTable('resources')
      .addColumn('resource_type', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('patient_id', 'text')
      .addColumn('json', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('resources_pk', ['resource_type', 'id'])
      .execute();
    await db.schema.createIndex('resources_by_patient').on('resources').columns(['patient_id']).execute();
    await db.schema
      .createTable('assignments')
      .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
      .addColumn('patient_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('assignments_pk', ['clinician_id', 'patient_id'])
      .execute();
    await db.schema
      .createTable('enrollment_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createTable('challenges')
      .addColumn('challenge', 'text', (c) => c.primaryKey())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('clinician_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createTable('credentials')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('counter', 'bigint', (c) => c.notNull())
      .addColumn('transports', 'text', (c) => c.notNull())
      .addColumn('prf', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema
      .createTable('devices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_seen_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema
      .createTable('sessions')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
  async (db) => {
    await db.schema.alterTable('resources').addColumn('version_id', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    await db.schema
      .createTable('applied_changes')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('applied_changes_pk', ['device_id', 'idempotency_key'])
      .execute();
  },
  async (db) => {
    await db.schema
      .createTable('audit_entries')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('entry', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('patient_id', 'text')
      .addColumn('event', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_entries_pk', ['device_id', 'seq'])
      .execute();
    await db.schema.createIndex('audit_entries_by_patient').on('audit_entries').columns(['patient_id', 'seq']).execute();
  },
  async (db) => {
    // The change feed: every write stamps the resource with the next change
    // number, so a device pulls what changed since its cursor.
    await db.schema.alterTable('resources').addColumn('change_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.createIndex('resources_by_change').on('resources').columns(['change_seq', 'resource_type', 'id']).execute();
    await db.schema
      .createTable('counters')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'bigint', (c) => c.notNull())
      .execute();
    await db.insertInto('counters').values({ name: 'change_seq', value: 0 }).execute();
  },
  async (db) => {
    await db.schema.alterTable('sessions').addColumn('scope', 'text', (c) => c.notNull().defaultTo('full')).execute();
  },
  // From here on each feature migrates its own tables, in this fixed order.
  (db) => migrateAuthorization(db),
  (db) => migrateAuditLedger(db),
  (db) => migrateSessions(db),
  (db) => migrateAuditFlags(db),
  (db) => migrateUsedDecoyChallenges(db),
  (db) => migrateSignaling(db),
  (db) => migratePrivacy(db),
  (db) => migrateGlass(db),
  (db) => migratePrivacyRota(db),
  (db) => migrateChangeFeedIndex(db),
];

/** Which engine a Kysely instance runs on. */
export function engineOf(db: Db): Engine {
  return db.getExecutor().adapter instanceof SqliteAdapter ? 'sqlite' : 'postgres';
}

/**
 * Applies pending migrations in order, each in its own transaction. On
 * PostgreSQL several instances may start at once: each migration's
 * transaction first takes one advisory lock and reads the version again, so
 * exactly one instance applies it and the others see it applied.
 */
export async function migrate(db: Db): Promise<void> {
  const postgres = engineOf(db) === 'postgres';
  const lock = (trx: Db) => (postgres ? sql`select pg_advisory_xact_lock(7242201)`.execute(trx) : Promise.resolve());
  await db.transaction().execute(async (trx) => {
    await lock(trx);
    await trx.schema
      .createTable('migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute();
  });
  for (let version = 1; version <= MIGRATIONS.length; version++) {
    await db.transaction().execute(async (trx) => {
      await lock(trx);
      const row = await trx.selectFrom('migrations').select(sql<number>`max(version)`.as('v')).executeTakeFirst();
      if (Number(row?.v ?? 0) >= version) return;
      await MIGRATIONS[version - 1]!(trx);
      await trx.insertInto('migrations').values({ version, applied_at: new Date().toISOString() }).execute();
    });
  }
}
