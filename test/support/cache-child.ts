/**
 * Starts test/support/cache-writer-child.ts as a real second process and
 * waits for what it prints (events, not timers): `line(/open/)` resolves when
 * the child has printed a matching line, and rejects if it exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT } from './cache-cli';
import { appChildArgs } from './bundled-entry';

const CHILD = join(ROOT, 'test', 'support', 'cache-writer-child.ts');

export interface CacheChild {
  readonly process: ChildProcess;
  /** Resolves with the first line (from now on, or already printed) matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  /** The text printed so far (stdout and stderr). */
  output(): string;
  kill(): Promise<void>;
}

export function startCacheChild(options: { dataDir: string; keychainService: string; mode: 'hold' | 'write'; marker?: string }): CacheChild {
  const child = spawn(process.execPath, appChildArgs(CHILD), {
    cwd: ROOT,
    env: {
      ...process.env,
      CACHE_CHILD_DATA_DIR: options.dataDir,
      CACHE_CHILD_KEYCHAIN_SERVICE: options.keychainService,
      CACHE_CHILD_MODE: options.mode,
      CACHE_CHILD_MARKER: options.marker ?? 'marker',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    lines = out.split('\n');
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  let seen = 0;
  return {
    process: child,
    output: () => out,
    line(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = seen; i < lines.length - 1; i++) {
            if (pattern.test(lines[i]!)) {
              seen = i + 1;
              waiters.delete(check);
              resolve(lines[i]!);
              return;
            }
          }
        };
        waiters.add(check);
        check();
        void exited.then(() => {
          if (waiters.delete(check)) reject(new Error(`child exited before printing ${pattern}: ${out.slice(-2000)}`));
        });
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
