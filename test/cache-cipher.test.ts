/**
 * The cache's page encryption on real files: a cache this version makes is
 * AEGIS-256 (authenticated, keyed with the raw key), holds no plaintext in
 * its file or its WAL, refuses another key and reports a changed page as
 * damage; a cache made by an earlier version (SQLCipher 4), with commits
 * still in its WAL, opens as it is, keeps every row and stays in its format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, openSync, readFileSync, closeSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3-multiple-ciphers';
import { AppError } from '../shared/app-error';
import { checkCacheIntegrity, cipherSchemeOf, openCacheDatabase } from '../electron/services/cache-database';
import { scratchDir } from './support/scratch';

const MARKER = 'cipher-test-marker-7f3a9c';
const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

/** Whether `text` appears in the bytes of `file` (absent file: no). */
function fileHolds(file: string, text: string): boolean {
  return existsSync(file) && readFileSync(file).includes(Buffer.from(text));
}

/** `file` opened as versions before AEGIS opened a cache: SQLCipher 4, the raw key (and, unless read only, WAL, no autocheckpoint). */
function openAsSqlcipher4(file: string, key: Buffer, options: { readonly?: boolean } = {}): Database.Database {
  const db = new Database(file, { readonly: options.readonly === true });
  db.pragma("cipher='sqlcipher'");
  db.pragma('legacy=4');
  db.pragma(`key="x'${key.toString('hex')}'"`);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
  }
  return db;
}

test('a new cache is AEGIS-256 keyed with the raw key: no plaintext in the file or its WAL, another key refused, a changed page reported as damage', () => {
  const dir = scratchDir('cache-cipher');
  const key = randomBytes(32);
  const file = join(dir.path, 'cache.db');
  try {
    const db = openCacheDatabase(file, key, { create: true });
    try {
      assert.equal(cipherSchemeOf(db), 'aegis-256');
      assert.equal(db.pragma('cipher', { simple: true }), 'aegis');
      assert.equal(db.pragma('algorithm', { simple: true }), 'aegis-256', 'the 256-bit variant: all 32 bytes are the key');
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE t (v TEXT)');
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < 500; i++) insert.run(`${MARKER}-${i}`);
      })();
      assert.equal(fileHolds(`${file}-wal`, MARKER), false, 'the WAL holds only ciphertext');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    assert.equal(fileHolds(file, MARKER), false, 'the file holds only ciphertext');
    const head = readFileSync(file).subarray(0, 24);
    assert.equal(head.includes(Buffer.from('SQLite format 3')), false, 'bytes 0-15 are a random salt, not the SQLite magic');
    // Neither half of the key is in the clear header (a 128-bit variant would take the key's second half as this salt).
    assert.equal(readFileSync(file).includes(key.subarray(0, 16)), false);
    assert.equal(readFileSync(file).includes(key.subarray(16)), false);
    assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: false }), isCode('CACHE_KEY_WRONG'));

    const again = openCacheDatabase(file, key, { create: false });
    let pages: number;
    try {
      assert.equal(cipherSchemeOf(again), 'aegis-256');
      assert.equal(again.prepare('SELECT count(*) FROM t WHERE v LIKE ?').pluck().get(`${MARKER}-%`), 500);
      pages = again.pragma('page_count', { simple: true }) as number;
    } finally {
      again.close();
    }
    // One bit changed in the middle of the last page: the page's tag no longer matches.
    const pageSize = 4096;
    const fd = openSync(file, 'r+');
    try {
      const at = (pages - 1) * pageSize + 2000;
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, at);
      byte[0]! ^= 0x01;
      writeSync(fd, byte, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    const damaged = openCacheDatabase(file, key, { create: false });
    try {
      assert.throws(() => checkCacheIntegrity(damaged), isCode('CACHE_CORRUPT'));
    } finally {
      damaged.close();
    }
  } finally {
    key.fill(0);
    dir.remove();
  }
});

test('a SQLCipher 4 cache made by an earlier version, with commits still in its WAL, opens as it is, keeps every row, takes new ones and stays SQLCipher 4', () => {
  const dir = scratchDir('cache-cipher');
  const key = randomBytes(32);
  const made = join(dir.path, 'made.db');
  const file = join(dir.path, 'cache.db');
  try {
    const old = openAsSqlcipher4(made, key);
    try {
      old.exec('CREATE TABLE t (v TEXT)');
      old.pragma('wal_checkpoint(TRUNCATE)');
      const insert = old.prepare('INSERT INTO t (v) VALUES (?)');
      old.transaction(() => {
        for (let i = 0; i < 300; i++) insert.run(`${MARKER}-${i}`);
      })();
      // Copied while open: the 300 rows are only in the WAL, as after a crash.
      copyFileSync(made, file);
      copyFileSync(`${made}-wal`, `${file}-wal`);
    } finally {
      old.close();
    }
    assert.equal(fileHolds(`${file}-wal`, MARKER), false);

    const db = openCacheDatabase(file, key, { create: false });
    try {
      assert.equal(cipherSchemeOf(db), 'sqlcipher-4');
      assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 300, 'every row the WAL held');
      db.prepare('INSERT INTO t (v) VALUES (?)').run(`${MARKER}-new`);
      checkCacheIntegrity(db);
    } finally {
      db.close();
    }
    assert.equal(fileHolds(file, MARKER), false, 'still only ciphertext');
    assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: false }), isCode('CACHE_KEY_WRONG'));
    // Read back as the earlier version reads it: the same format, every row.
    const back = openAsSqlcipher4(file, key, { readonly: true });
    try {
      assert.equal(back.prepare('SELECT count(*) FROM t').pluck().get(), 301);
    } finally {
      back.close();
    }
  } finally {
    key.fill(0);
    dir.remove();
  }
});

test('a wrong key leaves a SQLCipher 4 cache byte for byte as it was (both schemes tried and refused), alone and beside an open writer', () => {
  const dir = scratchDir('cache-cipher');
  const key = randomBytes(32);
  const file = join(dir.path, 'cache.db');
  const old = openAsSqlcipher4(file, key);
  try {
    old.exec('CREATE TABLE t (v TEXT)');
    old.prepare('INSERT INTO t (v) VALUES (?)').run(MARKER);
    const bytes = () => [file, `${file}-wal`].map((f) => readFileSync(f).toString('base64'));
    const before = bytes();
    // Beside the writer, which holds the file open with commits only in its WAL.
    assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: false }), isCode('CACHE_KEY_WRONG'));
    assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: false, readonly: true }), isCode('CACHE_KEY_WRONG'));
    assert.deepEqual(bytes(), before, 'beside the writer: nothing changed');
    // Alone: a copy of the file and its WAL, no -shm, as a crash leaves it.
    const alone = join(dir.path, 'alone.db');
    copyFileSync(file, alone);
    copyFileSync(`${file}-wal`, `${alone}-wal`);
    const aloneBytes = () => [alone, `${alone}-wal`].map((f) => readFileSync(f).toString('base64'));
    const aloneBefore = aloneBytes();
    assert.throws(() => openCacheDatabase(alone, randomBytes(32), { create: false }), isCode('CACHE_KEY_WRONG'));
    assert.deepEqual(aloneBytes(), aloneBefore, 'alone: nothing changed');
    const opened = openCacheDatabase(alone, key, { create: false });
    try {
      assert.equal(opened.prepare('SELECT count(*) FROM t').pluck().get(), 1, 'and the right key still finds the commit in the WAL');
    } finally {
      opened.close();
    }
  } finally {
    old.close();
    key.fill(0);
    dir.remove();
  }
});
