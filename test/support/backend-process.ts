/**
 * The real backend as a child process on loopback (SQLite in a scratch
 * folder, a fresh PostgreSQL database of its own, or a PostgreSQL database
 * another instance uses too), plus its admin commands. Its receipt-signing
 * key comes from configuration as in production: a key file test support
 * makes beside the data folder, or the one given (several instances share it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cache-cli';
import { bundledEntry } from './bundled-entry';
import { receiptKeyFile } from './receipt-key';
import { SYNTHEA_DIR } from './synthea';
import { freshPostgresDatabase } from './postgres';

export interface BackendProcess {
  /** Fixed once the first start succeeded (restarts keep it). */
  readonly url: string;
  readonly port: number;
  dataDir: string;
  /** Set when the backend runs on PostgreSQL (a fresh database of its own). */
  databaseUrl: string | undefined;
  /** The receipt-signing key file the process is given. */
  receiptKeyFile: string;
  /** The running process's id (null while stopped). */
  readonly pid: number | null;
  /** Whether the process is running (not exited, not killed). */
  alive(): boolean;
  /** What the process wrote to stdout and stderr since it was last started (its last 4 MiB), to check logs carry no PHI. */
  output(): string;
  /** Stops the process for good and drops its PostgreSQL database, if any. */
  dispose(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no graceful shutdown, as a crash or power loss of the server process. */
  kill(): Promise<void>;
  start(): Promise<void>;
  admin(args: string[]): string;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** The backend's entry point; it is started from a bundle of it (bundled-entry.ts: same code, a faster start than under tsx). */
const SERVER = join(ROOT, 'server', 'main.ts');

export interface BackendOptions {
  dataDir: string;
  origins: string[];
  engine?: 'sqlite' | 'postgres';
  bundles?: string[];
  /** PostgreSQL only: use this database (shared with another instance; not dropped by dispose) instead of a fresh one. */
  databaseUrl?: string;
  /** The receipt-signing key file (default: one made beside the data folder). */
  receiptKeyFile?: string;
  /** Extra command-line flags for `serve`. */
  flags?: string[];
  /** The port to try first (default: one free a moment before). */
  port?: number;
}

/** Tries at the first start, each on a port free a moment before, while the one tried was taken meanwhile. */
const FIRST_START_TRIES = 5;

export async function startBackend(options: BackendOptions): Promise<BackendProcess> {
  // Free when asked, but another process (test files run side by side) can take it before the backend binds it: the first
  // start then moves to another. Restarts keep the port (the URL clients were given).
  let port = options.port ?? (await freePort());
  const database = options.engine === 'postgres' && !options.databaseUrl ? await freshPostgresDatabase() : null;
  const databaseUrl = options.engine === 'postgres' ? (options.databaseUrl ?? database!.url) : undefined;
  const env = { ...process.env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  const keyFile = options.receiptKeyFile ?? receiptKeyFile(`${options.dataDir}-keys`);
  let child: ChildProcess | null = null;
  let out = '';
  const end = async (signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    // A graceful stop that does not end (a request or a database call that never returns) is ended after 15 s.
    const running = child;
    const hard = signal === 'SIGKILL' ? null : setTimeout(() => running.kill('SIGKILL'), 15_000);
    await exited;
    if (hard) clearTimeout(hard);
    child = null;
  };
  const backend: BackendProcess = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir: options.dataDir,
    databaseUrl,
    receiptKeyFile: keyFile,
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? (child.pid ?? null) : null;
    },
    alive() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    output: () => out,
    async dispose() {
      await end('SIGTERM');
      await database?.drop();
    },
    async start() {
      const args = [bundledEntry(SERVER), '--port', String(port), '--data-dir', options.dataDir, '--rp-id', 'localhost', '--receipt-key-file', keyFile, ...(options.flags ?? [])];
      for (const b of options.bundles ?? [SYNTHEA_DIR]) args.push('--bundles', b);
      for (const o of options.origins) args.push('--origin', o);
      child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      out = '';
      const keep = (d: Buffer) => {
        out += d.toString();
        if (out.length > 4 * 1024 * 1024) out = out.slice(-4 * 1024 * 1024);
      };
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`backend did not start: ${out}`)), 30_000);
        child!.stdout!.on('data', (d: Buffer) => {
          keep(d);
          if (out.includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child!.stderr!.on('data', keep);
        child!.on('exit', () => reject(new Error(`backend exited: ${out}`)));
      });
    },
    async stop() {
      await end('SIGTERM');
    },
    async kill() {
      await end('SIGKILL');
    },
    admin(args: string[]) {
      const r = spawnSync(process.execPath, [bundledEntry(SERVER), ...args, '--data-dir', options.dataDir], { cwd: ROOT, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`admin ${args[0]} failed: ${r.stderr}`);
      return r.stdout.trim();
    },
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await backend.start();
      return backend;
    } catch (err) {
      if (attempt >= FIRST_START_TRIES || !/EADDRINUSE/.test((err as Error).message)) {
        await database?.drop();
        throw err;
      }
      port = await freePort();
    }
  }
}
