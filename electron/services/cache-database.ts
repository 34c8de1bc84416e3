/**
 * Opens the encrypted cache database with a raw 256-bit key and brings its
 * schema up to date. A cache it creates encrypts its pages with AEGIS-256; a
 * cache made by an earlier version (SQLCipher 4) opens in its own format
 * and stays in it. The only module that talks to better-sqlite3-multiple-ciphers'
 * open/key API. It must never open a database without a key, never keep the
 * key text beyond the open call, and never let SQLite spill plaintext to a
 * temp file (temp_store is memory). Files are 0600: the database file is
 * made 0600 before SQLite opens it, and SQLite gives its -wal and -shm the
 * main file's mode (without touching the process umask other code relies on).
 * The page cache is the size it is given, within page-cache-policy.ts's
 * bounds (IT's policy `cachePageCacheMiB`, default 16 MiB). Every open asks
 * SQLite3MultipleCiphers to wipe memory as it is freed (`memory_security =
 * fill`, process-wide); the build in node_modules is compiled without it
 * (SQLITE3MC_SECURE_MEMORY), so today decrypted pages are free()d unwiped at
 * close (README "Page cache and memory"); a build with it wipes them with no
 * change here.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { AppError } from '../../shared/app-error';
import { applyMigrations } from './cache-migrations';
import { diskFullError, isDiskFullError } from './cache-disk-full';
import { isPageCacheKiB, PAGE_CACHE_KIB_DEFAULT, pageCacheOutOfBounds } from './page-cache-policy';

export type CacheDatabase = Database.Database;

/** SQLite error codes that mean "the bytes on disk are not what we wrote". */
const CORRUPTION_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_INDEX']);

export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CORRUPTION_CODES.has(code);
}

export function corruptCacheError(): AppError {
  return new AppError('CACHE_CORRUPT', 'The patient cache file is damaged or was altered.');
}

/** Rethrows SQLite corruption as CACHE_CORRUPT and a full disk as DISK_FULL; anything else unchanged. */
export function asCacheError(err: unknown): unknown {
  if (isCorruptionError(err)) return corruptCacheError();
  if (isDiskFullError(err)) return diskFullError();
  return err;
}

const POSIX = process.platform !== 'win32';
const SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * A new database file is created empty with mode 0600 before SQLite sees it
 * (O_EXCL: an existing file is never opened here, so no descriptor of ours can
 * drop a POSIX lock SQLite holds on it). An existing file and its side files,
 * perhaps made 0644 by an older version, are tightened to 0600.
 */
function prepareFileModes(file: string, create: boolean): void {
  if (create && !existsSync(file)) {
    try {
      closeSync(openSync(file, 'wx', 0o600));
    } catch (err) {
      if (isDiskFullError(err)) throw diskFullError();
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AppError('CACHE_NOT_OPEN', 'The patient cache file could not be created.');
    }
  }
  if (!POSIX) return;
  for (const f of [file, ...SIDE_FILES.map((s) => file + s)]) {
    try {
      chmodSync(f, 0o600);
    } catch {
      // absent side file
    }
  }
}

export interface OpenOptions {
  /** Create the file if missing (first run only). */
  create: boolean;
  /** Page cache in KiB (page-cache-policy.ts bounds; default 16 MiB); each cache miss decrypts and checks a page. */
  cacheKiB?: number;
  /** Read only, beside a writer (the backup): no migrations, no pragmas that write. */
  readonly?: boolean;
  /** The store's checkpointer beside its writer (./store/store-checkpointer.ts): read-write for checkpoints only (query_only), no migrations. */
  checkpointer?: boolean;
}

/**
 * The pragmas every writable cache connection runs with, then the schema
 * brought up to date; a read-only connection only keeps its temporary
 * tables in memory (it writes nothing, migrates nothing); the checkpointer's
 * connection also syncs as the writer does and refuses every write but a
 * checkpoint (query_only). Also what the benchmark's plaintext baseline runs
 * (bench/plain-database.ts), so the baseline differs only by the
 * encryption. Throws SQLite's own errors: the caller maps them.
 */
export function prepareCacheConnection(db: CacheDatabase, cacheKiB: number, options: Pick<OpenOptions, 'readonly' | 'checkpointer'> = {}): void {
  if (options.readonly) {
    db.pragma('temp_store = MEMORY');
    return;
  }
  if (options.checkpointer) {
    db.pragma('synchronous = NORMAL');
    db.pragma('temp_store = MEMORY');
    db.pragma('query_only = ON');
    return;
  }
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a process crash loses nothing committed; a power cut
  // may roll back the last commits but never leaves a half transaction.
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${cacheKiB}`);
  // When the WAL starts over, its file is cut back to 4 MiB (the store reads its size to hand checkpoints to its thread: ./store/store-host.ts).
  db.pragma(`journal_size_limit = ${4 * 1024 * 1024}`);
  applyMigrations(db);
}

/**
 * Page encryption of a cache this version creates: AEGIS-256 (an authenticated
 * cipher on AES's round function: a random 256-bit nonce per page write and a
 * 256-bit tag binding the page's number), keyed with the raw 32-byte key (the
 * x'..' form skips SQLite3MultipleCiphers' Argon2 derivation). It reads and
 * writes at plaintext speed where SQLCipher's HMAC-SHA512, computed in
 * portable C, cost 2.5 to 3x (README "Page cache and memory").
 */
const CURRENT_SCHEME = {
  name: 'aegis-256',
  pragmas: ["cipher='aegis'", "algorithm='aegis-256'"],
  // Read back before the key is given: the library ignores a setting it does not know, and a 128-bit variant would
  // take the second half of our 32-byte key as the file's salt, written in clear into page 1.
  readBack: [['cipher', 'aegis'], ['algorithm', 'aegis-256']],
} as const;
/** Caches made by versions before AEGIS: SQLCipher 4 (AES-256-CBC, HMAC-SHA512), opened as they are. */
const LEGACY_SCHEME = {
  name: 'sqlcipher-4',
  pragmas: ["cipher='sqlcipher'", 'legacy=4'],
  readBack: [['cipher', 'sqlcipher'], ['legacy', '4']],
} as const;
type CipherScheme = typeof CURRENT_SCHEME | typeof LEGACY_SCHEME;

/** Opens `file` keyed with `scheme` and reads page 1 (which fails for a wrong key, a foreign file or another scheme: CACHE_KEY_WRONG). */
function openKeyed(file: string, key: Buffer, options: OpenOptions, scheme: CipherScheme): CacheDatabase {
  let db: CacheDatabase;
  try {
    db = new Database(file, { fileMustExist: !options.create || options.readonly === true, readonly: options.readonly === true });
  } catch (err) {
    if (isDiskFullError(err)) throw diskFullError();
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache file could not be opened.');
  }
  try {
    for (const pragma of scheme.pragmas) db.pragma(pragma);
    for (const [name, value] of scheme.readBack) {
      if (String(db.pragma(name, { simple: true })) !== value) throw new AppError('CACHE_NOT_OPEN', 'The cache\'s encryption could not be set up.');
    }
    db.pragma(`key="x'${key.toString('hex')}'"`);
    // Wipe what SQLite frees (decrypted pages at close among it), where the library offers it; a no-op in a build without it.
    db.pragma('memory_security = fill');
    // The first read decrypts page 1: a wrong key or foreign file fails here.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    db.close();
    if (err instanceof AppError) throw err;
    if (isDiskFullError(err)) throw diskFullError();
    if (isCorruptionError(err)) {
      throw new AppError('CACHE_KEY_WRONG', 'The patient cache cannot be decrypted with this computer\'s key (wrong key, or the file is damaged).');
    }
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache could not be opened.');
  }
  return db;
}

/** The page encryption an open cache runs with: 'aegis-256' for a cache this version made, 'sqlcipher-4' for an older one. */
export function cipherSchemeOf(db: CacheDatabase): string {
  return db.pragma('cipher', { simple: true }) === 'sqlcipher' ? LEGACY_SCHEME.name : CURRENT_SCHEME.name;
}

export function openCacheDatabase(file: string, key: Buffer, options: OpenOptions): CacheDatabase {
  if (key.length !== 32) throw new AppError('CACHE_KEY_WRONG', 'The cache key has the wrong length.');
  // Checked before anything is opened: the size goes into a PRAGMA's text.
  const cacheKiB = options.cacheKiB ?? PAGE_CACHE_KIB_DEFAULT;
  if (!isPageCacheKiB(cacheKiB)) throw pageCacheOutOfBounds();
  if (!options.readonly) prepareFileModes(file, options.create);
  // Nothing written yet (no page 1, no journal): made by this version, so only its scheme is tried.
  const created = !existsSync(file) || (statSync(file).size === 0 && !existsSync(`${file}-wal`));
  let db: CacheDatabase;
  try {
    db = openKeyed(file, key, options, CURRENT_SCHEME);
  } catch (err) {
    // A cache made before AEGIS (SQLCipher 4) opens as it is and stays in its format; a new file is never tried as one.
    if (created || !(err instanceof AppError) || err.code !== 'CACHE_KEY_WRONG') throw err;
    db = openKeyed(file, key, options, LEGACY_SCHEME);
  }
  try {
    prepareCacheConnection(db, cacheKiB, options);
  } catch (err) {
    db.close();
    if (err instanceof AppError) throw err;
    if (isCorruptionError(err)) throw corruptCacheError();
    if (isDiskFullError(err)) throw diskFullError();
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache could not be prepared.');
  }
  return db;
}

/** Reads every page (each page's tag, or SQLCipher's HMAC, is checked on read); a damaged file fails with CACHE_CORRUPT. */
export function checkCacheIntegrity(db: CacheDatabase): void {
  let result: unknown;
  try {
    result = db.pragma('integrity_check', { simple: true });
  } catch (err) {
    throw asCacheError(err);
  }
  if (result !== 'ok') throw corruptCacheError();
}
