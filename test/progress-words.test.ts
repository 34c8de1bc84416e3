/**
 * The exact words of a long first sync's and import's progress (status bar,
 * screen reader, stderr), and the counting behind them: the estimate of the
 * run's size from the first page, the time left from the rate so far, no
 * progress for a run of one page, never a count above the estimate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syncProgressShortWords, syncProgressTinyWords, syncProgressWords, timeLeftWords } from '../shared/progress-words';
import { PullProgress } from '../electron/services/pull-progress';
import { ImportProgress } from '../electron/cli/import-progress';
import type { PullReply } from '../shared/sync-api';

const page = (n: number, more: boolean, remaining?: number) => ({ resources: new Array(n).fill(null), cursor: '1/Patient/a', more, ...(remaining === undefined ? {} : { remaining }) }) as unknown as PullReply;

test('the status words: the whole sentence, the short and the smallest forms, with and without the estimate', () => {
  const full = { patients: 412, resources: 203_000, resourcesTotal: 1_000_000, secondsLeft: 361 };
  assert.equal(syncProgressWords(full), 'Downloading your patients: 412 patients, 203,000 of about 1,000,000 records, about 6 min left');
  assert.equal(syncProgressShortWords(full), 'Downloading 20%, about 6 min left');
  const older = { patients: 1, resources: 2000, resourcesTotal: null, secondsLeft: null };
  assert.equal(syncProgressWords(older), 'Downloading your patients: 1 patient, 2,000 records so far');
  assert.equal(syncProgressShortWords(older), 'Downloading: 2,000 records');
  assert.equal(syncProgressTinyWords(full), '\u2193 20%');
  assert.equal(syncProgressTinyWords(older), '\u2193 2,000');
  assert.equal(syncProgressShortWords({ ...full, resources: 999_999 }), 'Downloading 99%, about 6 min left', 'never 100% while it runs');
  assert.equal(timeLeftWords(20), 'less than a minute left');
  assert.equal(timeLeftWords(3600), 'about 1 h left');
  assert.equal(timeLeftWords(4800), 'about 1 h 20 min left');
});

test('a pull run: nothing for one page; the size from the first page; the time left from the rate so far', () => {
  let now = 0;
  const short = new PullProgress(() => now);
  short.page(page(10, false, 0));
  short.slice(10, ['a']);
  assert.equal(short.snapshot(), null, 'one page: nothing shown');

  const run = new PullProgress(() => now);
  run.page(page(2000, true, 8000));
  assert.deepEqual(run.snapshot(), { patients: 0, resources: 0, resourcesTotal: 10_000, secondsLeft: null });
  now = 10_000; // 10 s for the first 2,000: 8,000 left at 200/s
  run.slice(2000, ['a', 'b', 'a']);
  assert.deepEqual(run.snapshot(), { patients: 2, resources: 2000, resourcesTotal: 10_000, secondsLeft: 40 });
  run.page(page(2000, true, 123)); // a later page's field (not asked) changes nothing
  run.slice(2000, ['b', 'c']);
  assert.equal(run.snapshot()!.resourcesTotal, 10_000);
  assert.equal(run.snapshot()!.patients, 3, 'distinct patients');
  run.slice(7000, []);
  assert.deepEqual({ ...run.snapshot()!, secondsLeft: run.snapshot()!.secondsLeft }, { patients: 3, resources: 11_000, resourcesTotal: 11_000, secondsLeft: 0 }, 'never more than the estimate');

  const older = new PullProgress(() => now);
  older.page(page(2000, true));
  older.slice(2000, ['a']);
  assert.deepEqual(older.snapshot(), { patients: 1, resources: 2000, resourcesTotal: null, secondsLeft: null });
});

test('the import lines: only for a long import, counts, files left and the time left by size', () => {
  const lines: string[] = [];
  let now = 0;
  const one = new ImportProgress([1000], (l) => lines.push(l), () => now);
  one.finished(0, { resources: 5, patients: 1 });
  assert.equal(lines.length, 0, 'one small bundle: no progress lines');

  const many = new ImportProgress([100, 100, 200], (l) => lines.push(l), () => now);
  now = 2000;
  many.finished(0, { resources: 1500, patients: 1 });
  now = 3000;
  many.finished(1, null);
  many.finished(2, { resources: 1, patients: 1 });
  assert.deepEqual(lines, [
    'import: 1 of 3 bundles done: 1,500 resources, 1 patient so far; 2 files left, less than a minute left\n',
    'import: 2 of 3 bundles done (1 refused): 1,500 resources, 1 patient so far; 1 file left, less than a minute left\n',
    'import: 3 of 3 bundles done (1 refused): 1,501 resources, 2 patients so far; no files left\n',
  ]);

  lines.length = 0;
  const big = new ImportProgress([20 * 1024 * 1024], (l) => lines.push(l), () => now);
  big.starting(0);
  big.finished(0, { resources: 10, patients: 2 });
  assert.deepEqual(lines, ['import: bundle 1 of 1 (20 MB) is being imported in one piece\n', 'import: 1 of 1 bundles done: 10 resources, 2 patients so far; no files left\n']);
});
