/**
 * The backend's SQLite connection as Kysely's SQLite dialect sees it, with
 * its prepared statements kept and reused: Kysely's driver prepares every
 * query it runs, and on a push of 500 changes preparing (parsing and
 * planning the SQL in SQLite) cost more CPU than running the statements.
 * The most recently used statements are kept, by their SQL text (values are
 * bound at each run; the few literals some queries carry come from small
 * fixed sets); the least recently used is dropped past the limit: IN lists
 * and multi-row inserts of every length are distinct texts (a push alone
 * makes hundreds), and would otherwise grow it without end.
 *
 * Reuse is safe because a statement runs to completion inside one
 * synchronous call (all or run) on this one connection. It must never serve
 * a statement to a streamed query (iterate) while another use of it is still
 * open: the backend streams no query, and iterate refuses if one ever does.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** How many distinct SQL texts are kept prepared: every fixed query the backend runs, and the lengths of lists used most lately. */
export const KEPT_STATEMENTS = 256;

export function withStatementCache(file: Database, kept = KEPT_STATEMENTS): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  const keep = (statement: Statement): SqliteStatement => ({
    reader: statement.reader,
    all: (parameters) => statement.all(parameters),
    run: (parameters) => statement.run(parameters),
    iterate: () => {
      throw new Error('the backend streams no query from a kept statement');
    },
  });
  return {
    prepare(text: string): SqliteStatement {
      let statement = statements.get(text);
      if (statement) {
        // Most recently used last, so the first key is the one to drop.
        statements.delete(text);
      } else {
        statement = keep(file.prepare(text));
        if (statements.size >= kept) statements.delete(statements.keys().next().value as string);
      }
      statements.set(text, statement);
      return statement;
    },
    close(): void {
      statements.clear();
      file.close();
    },
  };
}
