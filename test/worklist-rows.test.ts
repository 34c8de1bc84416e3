/**
 * The worklist's pure parts (renderer/src/worklist/worklist-rows.ts): flag
 * badges are words ("2 critical", "1 draft", "conflict"), abnormal counts
 * only readings that are not already critical, and every sort order is
 * stable and goes both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorklistRow } from '../shared/contract';
import { badgesOf, sortRows } from '../renderer/src/worklist/worklist-rows';

function row(id: string, name: string, birthDate: string | null, flags: Partial<WorklistRow['flags']> = {}, date: string | null = null): WorklistRow {
  return {
    id,
    name,
    birthDate,
    gender: 'female',
    mrn: `M-${id}`,
    latestEncounter: date ? { date, classCode: 'AMB', type: null } : null,
    flags: { abnormalVitals: 0, criticalVitals: 0, drafts: 0, waiting: 0, conflicts: 0, allergies: 0, ...flags },
  };
}

test('badges are words: critical, abnormal beyond critical, conflict, waiting, drafts, allergies', () => {
  const r = row('1', 'A', null, { abnormalVitals: 3, criticalVitals: 2, drafts: 1, waiting: 3, conflicts: 1, allergies: 2 });
  assert.deepEqual(badgesOf(r).map((b) => b.text), ['2 critical', '1 abnormal', 'conflict', '3 waiting', '1 draft', '2 allergies']);
  assert.deepEqual(badgesOf(row('2', 'B', null, { abnormalVitals: 2, criticalVitals: 2, drafts: 2, allergies: 1 })).map((b) => b.text), ['2 critical', '2 drafts', '1 allergy']);
  assert.deepEqual(badgesOf(row('3', 'C', null)), []);
});

test('sorts by each column both ways, ties by name then id', () => {
  const rows = [
    row('a', 'Cora', '1950-01-01', { criticalVitals: 1, abnormalVitals: 1 }, '2024-01-01'),
    row('b', 'Abel', '2000-06-01', {}, '2026-01-01'),
    row('c', 'Bea', '1980-03-01', { drafts: 1 }, null),
    row('d', 'Abel', '1990-01-01', {}, '2025-01-01'),
  ];
  const ids = (key: Parameters<typeof sortRows>[1]['key'], direction: 'ascending' | 'descending') => sortRows(rows, { key, direction }).map((r) => r.id);
  assert.deepEqual(ids('name', 'ascending'), ['b', 'd', 'c', 'a']);
  assert.deepEqual(ids('name', 'descending'), ['a', 'c', 'b', 'd'], 'ties keep name-then-id order');
  assert.deepEqual(ids('age', 'ascending'), ['b', 'd', 'c', 'a'], 'youngest first');
  assert.deepEqual(ids('age', 'descending'), ['a', 'c', 'd', 'b']);
  assert.deepEqual(ids('encounter', 'descending'), ['b', 'd', 'a', 'c'], 'newest first, none last');
  assert.deepEqual(ids('attention', 'descending'), ['a', 'c', 'b', 'd'], 'critical first');
  assert.deepEqual(ids('mrn', 'ascending'), ['a', 'b', 'c', 'd']);
});
