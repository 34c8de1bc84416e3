/**
 * The cache command line for tests, demos and IT:
 *   npm run cache -- <import|verify|stats|audit-export|wipe|backup|restore> [files] --data-dir <dir>
 * Uses the same services and the same OS keychain as the app. Prints counts
 * and reports, never PHI (bundles are named by position, not by file name,
 * because file names often carry patient names). Exits non-zero with a
 * clear message on any error. Never imports into a profile enrolled with the
 * backend: its entries (actor `cli:<os-user>`) would sit in the clinician's
 * audit chain, which the backend refuses whole, so the device could never
 * upload its audit trail again (exit 3, nothing written). Every command that
 * opens or changes the cache holds the folder's writer lock, so a cache open
 * in the app (or another command) is refused with CACHE_IN_USE (exit 75,
 * nothing changed); `backup` alone runs beside the app, read-only.
 * `stats` and `audit-export` are audited (issue 13): each run writes an
 * 'export' entry (actor `cli:<os-user>`) in the same transaction as its read
 * and says so on stderr; for that reason they, too, refuse an enrolled
 * profile (exit 3), whose trail the privacy console already shows.
 */
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AppError } from '../../shared/app-error';
import { osUserActor } from '../../shared/audit-entry';
import { describeChainProblem } from '../services/audit-chain';
import { auditFailedImport, importBundle, type ImportSummary } from '../services/bundle-import';
import { ImportProgress } from './import-progress';
import { verifyCache, wipeCache } from '../services/cache-maintenance';
import { auditedAuditExport, auditedCacheStats } from '../services/export/command-line-export';
import { backupCache, restoreCache } from '../services/cache-backup';
import { openCacheSession, type CacheSession } from '../services/cache-session';
import { MAX_BUNDLE_BYTES } from '../../shared/fhir-bundle';
import { EXPORT_REASON_TEXT_MAX } from '../../shared/contract';
import { readProfile } from '../services/cache-profile';
import { deviceKeysAreBound } from '../services/device-keys';
import { readPasskeyRecord } from '../services/session/passkey-record';
import { createOsSecretStore, DEFAULT_KEYCHAIN_SERVICE, type SecretStore } from '../services/secret-store';

const USAGE = `usage: npm run cache -- <command> --data-dir <dir>
  import <bundle.json>...   import FHIR R4 bundles, each one atomically; a refused one
                            is reported and the next still tried (exit 1 if any was
                            refused; never into a profile enrolled with the backend: exit 3);
                            several bundles or a big one: progress on stderr (counts only)
  verify                    check the file and the audit chain (exit 0 when whole)
  stats [--reason <text>]   counts by resource type and audit entries, as JSON (audited)
  audit-export [--reason <text>]
                            the audit log as FHIR AuditEvents (IHE BALP), one JSON per
                            line (audited: the run is the next entry of the log)
  stats and audit-export write an audit entry (an export by the OS account) and
  refuse a profile enrolled with the backend (exit 3).
  wipe [--force]            delete the keychain entries, then the cache files
  backup --out <file>       a consistent, still-encrypted copy of the database; safe
                            while the app is running (never copy the live folder)
  restore --from <file> [--force]
                            replace the database with a backup (only while nothing
                            has the cache open: exit 75 CACHE_IN_USE otherwise)
  wipe and restore refuse (exit 75) a folder whose cache.lock was deleted while
  cache.db is there: a crash never deletes it, so the app may still have the
  cache open; close every Clinician Desktop window, then add --force.`;

class UsageError extends Error {}

/** The folder is the desktop's enrolled profile: the command line does not write into it. */
class EnrolledProfileError extends Error {
  readonly code = 'PROFILE_ENROLLED';
  constructor(command: 'import' | 'stats' | 'audit-export' = 'import') {
    super(
      command === 'import'
        ? 'This data folder is enrolled with the hospital server; the command line does not import into it (its entries would stop the device\'s audit upload). Import into a separate --data-dir.'
        : `This data folder is enrolled with the hospital server; ${command} is audited, and an audit entry by the command line would stop the device's audit upload. The privacy console shows this device's trail.`,
    );
  }
}
const EXIT_ENROLLED = 3;
/** EX_TEMPFAIL: the cache is open elsewhere; close it and try again. */
const EXIT_IN_USE = 75;

function keychain(): SecretStore {
  return createOsSecretStore(process.env.CLINICIAN_KEYCHAIN_SERVICE ?? DEFAULT_KEYCHAIN_SERVICE);
}

/** Enrolled: the keychain holds the desktop's passkey record for this profile, or its keys are bound to a passkey. */
async function isEnrolled(dataDir: string, secrets: SecretStore): Promise<boolean> {
  const profile = readProfile(dataDir);
  if (!profile) return false;
  return (await readPasskeyRecord(dataDir, secrets)) !== null || (await deviceKeysAreBound(secrets, profile.profileId));
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function withSession<T>(dataDir: string, create: boolean, fn: (s: CacheSession) => T | Promise<T>): Promise<T> {
  const session = await openCacheSession({
    dataDir,
    secrets: keychain(),
    // The OS account that ran the command: audited with its own identifier system, never as a clinician.
    actor: osUserActor(userInfo().username),
    create,
  });
  try {
    return await fn(session);
  } finally {
    // The store's worker signs the head and closes before the command ends.
    await session.close();
  }
}

/** Errors that refuse one bundle (reported, then the next bundle is tried); any other error stops the import. */
const BUNDLE_REFUSALS: ReadonlySet<string> = new Set(['BUNDLE_INVALID', 'FHIR_VERSION_UNSUPPORTED', 'IMPORT_ID_COLLISION']);

/** A bundle file's size for the progress lines (0 when it cannot be read: its refusal is reported as it comes). */
function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readBundleFile(file: string, position: string): Buffer {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new AppError('BUNDLE_INVALID', `Bundle ${position} could not be read.`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new AppError('BUNDLE_INVALID', `Bundle ${position} is larger than the limit and was not imported.`);
  try {
    return readFileSync(file);
  } catch {
    throw new AppError('BUNDLE_INVALID', `Bundle ${position} could not be read.`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, force: { type: 'boolean' }, reason: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 64;
  }
  if (!values['data-dir']) throw new UsageError('--data-dir is required');
  const dataDir = resolve(values['data-dir']);

  switch (command) {
    case 'import': {
      if (rest.length === 0) throw new UsageError('import needs at least one bundle file');
      if (await isEnrolled(dataDir, keychain())) throw new EnrolledProfileError();
      // Each bundle on its own: one refused is reported (stdout, and stderr for people) and the next is still tried.
      // A long import (several bundles, a big one) says how far it is on stderr after each bundle: counts only.
      const progress = new ImportProgress(rest.map(fileSize), (line) => process.stderr.write(line));
      return withSession(dataDir, true, async (session) => {
        let refused = 0;
        // One bundle after another: each import is awaited before the next file is read.
        for (const [i, file] of rest.entries()) {
          const position = `${i + 1} of ${rest.length}`;
          let imported: ImportSummary | null = null;
          progress.starting(i);
          try {
            let bytes: Buffer;
            try {
              bytes = readBundleFile(file, position);
            } catch (err) {
              await auditFailedImport(session); // importBundle audits its own refusals; a file that cannot be read is one too
              throw err;
            }
            const summary = await importBundle(session, bytes);
            imported = summary;
            print({ bundle: i + 1, imported: summary.resources, patients: summary.patients, byType: summary.byType });
          } catch (err) {
            // Only refusals of the bundle itself move on; a cache that cannot write (disk full, locked) stops the command.
            if (!(err instanceof AppError) || !BUNDLE_REFUSALS.has(err.code)) throw err;
            refused++;
            print({ bundle: i + 1, refused: { code: err.code, message: err.message } });
            process.stderr.write(`bundle ${position}: error ${err.code}: ${err.message}\n`);
          }
          progress.finished(i, imported);
        }
        if (refused > 0) process.stderr.write(`${refused} of ${rest.length} bundles were not imported.\n`);
        return refused > 0 ? 1 : 0;
      });
    }
    case 'verify':
      return withSession(dataDir, false, async (session) => {
        const report = await verifyCache(session);
        print(report);
        if (report.firstBad) {
          process.stderr.write(`verify: ${describeChainProblem(report.firstBad)}\n`);
          return 2;
        }
        return 0;
      });
    case 'stats':
    case 'audit-export': {
      if (await isEnrolled(dataDir, keychain())) throw new EnrolledProfileError(command);
      const reason = values.reason?.trim().slice(0, EXPORT_REASON_TEXT_MAX) || null;
      return withSession(dataDir, false, async (session) => {
        if (command === 'stats') print(await auditedCacheStats(session, reason));
        else await auditedAuditExport(session, reason, print);
        process.stderr.write(`${command}: audited: this run is recorded in the cache's audit log as an export by ${session.context.actor}.\n`);
        return 0;
      });
    }
    case 'wipe':
      print(await wipeCache(dataDir, keychain(), { waitMs: 0, lockFileRequired: true, force: values.force === true }));
      return 0;
    case 'backup': {
      if (!values.out) throw new UsageError('backup needs --out <file>');
      print(await backupCache(dataDir, keychain(), resolve(values.out)));
      return 0;
    }
    case 'restore': {
      if (!values.from) throw new UsageError('restore needs --from <file>');
      print(await restoreCache(dataDir, keychain(), resolve(values.from), { force: values.force === true }));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command.slice(0, 20)}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exitCode = 64;
    } else if (err instanceof EnrolledProfileError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      process.exitCode = EXIT_ENROLLED;
    } else if (err instanceof AppError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      process.exitCode = err.code === 'CACHE_IN_USE' ? EXIT_IN_USE : 1;
    } else {
      process.stderr.write(`error INTERNAL: the command failed unexpectedly (${err instanceof Error ? err.name : 'error'}).\n`);
      process.exitCode = 1;
    }
  },
);
