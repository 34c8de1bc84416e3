/**
 * Runs the cache command line as a real child process (same keychain session
 * as the tests) and checks that nothing it printed contains PHI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { appChildArgs } from './bundled-entry';

export const ROOT = resolve(process.env.CLINICIAN_TEST_ROOT ?? process.cwd());
export const CLI = resolve(ROOT, 'electron/cli/cache-cli.ts');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Bundled under run-tests.sh (see bundled-entry.ts appChildArgs: about 1.5 s
 * less per start), with the store worker and keychain helper bundled beside
 * it; the source under tsx otherwise.
 */
export function cliArgs(args: string[]): string[] {
  return [...appChildArgs(CLI), ...args];
}

/** The command line exactly as `npm run cache` starts it: the source under tsx (its keychain helper forked from source too). */
export function cliSourceArgs(args: string[]): string[] {
  return ['--import', 'tsx', CLI, ...args];
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const r = spawnSync(process.execPath, cliArgs(args), { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawn(process.execPath, cliArgs(args), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}
