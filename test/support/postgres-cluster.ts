/**
 * A PostgreSQL cluster of one test's own, on a free loopback port, in a
 * throwaway folder, with a random password: a test may stop, start and
 * restart it (fast or immediate, as an operator or a crash would) without
 * disturbing the shared cluster other tests use at the same time. Started
 * and stopped as test/with-postgres.sh does (as the postgres user when the
 * tests run as root). Never prints the password.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './backend-process';

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

export interface PostgresCluster {
  /** The URL of a database on this cluster (created with createDatabase). */
  url(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(mode: ShutdownMode): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl restart -m mode`: down and up again in one step. */
  restart(mode: ShutdownMode): Promise<void>;
  dispose(): void;
}

function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new Error('the tests need PostgreSQL (Debian package postgresql)');
  return join('/usr/lib/postgresql', versions.at(-1)!, 'bin');
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = pgBin();
  const root = mkdtempSync('/tmp/clinician-pg-own-');
  chmodSync(root, 0o755);
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  // Asynchronous, so the test's own clients keep sending while the server goes down and up.
  const runAsync = async (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    await promisify(execFile)(cmd, argv);
  };
  const password = randomBytes(18).toString('base64url');
  writeFileSync(join(root, 'pwfile'), password, { mode: 0o644 });
  if (asRoot) execFileSync('chown', ['-R', 'postgres', root]);
  run('initdb', ['-D', join(root, 'data'), '-U', 'clinician_test', `--pwfile=${join(root, 'pwfile')}`, '-A', 'scram-sha-256', '-N']);
  rmSync(join(root, 'pwfile'));
  const port = await freePort();
  const data = join(root, 'data');
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${root}`;
  const url = (database: string) => `postgres://clinician_test:${password}@127.0.0.1:${port}/${database}`;
  const cluster: PostgresCluster = {
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) throw new Error('database name');
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop: (mode) => runAsync('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
    start: () => runAsync('pg_ctl', ['-D', data, '-l', join(root, 'log'), '-w', '-o', options, 'start']),
    restart: (mode) => runAsync('pg_ctl', ['-D', data, '-l', join(root, 'log'), '-m', mode, '-w', '-o', options, 'restart']),
    dispose() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
