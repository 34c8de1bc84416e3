/**
 * The worklist's pure parts: the flag badges of a row in words ("2 critical",
 * "1 draft", "3 waiting", "conflict", "2 allergies"), and the sort orders of
 * its columns. No data access; never a colour-only meaning (every badge is
 * text).
 */
import type { WorklistRow } from '../../../shared/contract';

export type SortKey = 'name' | 'age' | 'mrn' | 'encounter' | 'attention';
export type SortDirection = 'ascending' | 'descending';
export interface Sort {
  key: SortKey;
  direction: SortDirection;
}

export interface Badge {
  text: string;
  tone: 'crit' | 'warn' | 'info' | 'bad';
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function badgesOf(row: WorklistRow): Badge[] {
  const f = row.flags;
  const badges: Badge[] = [];
  if (f.criticalVitals > 0) badges.push({ text: `${f.criticalVitals} critical`, tone: 'crit' });
  const abnormalOnly = f.abnormalVitals - f.criticalVitals;
  if (abnormalOnly > 0) badges.push({ text: `${abnormalOnly} abnormal`, tone: 'warn' });
  if (f.conflicts > 0) badges.push({ text: f.conflicts === 1 ? 'conflict' : `${f.conflicts} conflicts`, tone: 'bad' });
  if (f.waiting > 0) badges.push({ text: `${f.waiting} waiting`, tone: 'info' });
  if (f.drafts > 0) badges.push({ text: plural(f.drafts, 'draft', 'drafts'), tone: 'info' });
  if (f.allergies > 0) badges.push({ text: plural(f.allergies, 'allergy', 'allergies'), tone: 'warn' });
  return badges;
}

/** Higher needs attention sooner: critical readings first, then conflicts, abnormal, waiting, drafts. */
export function attentionOf(row: WorklistRow): number {
  const f = row.flags;
  return f.criticalVitals * 10_000 + f.conflicts * 1_000 + (f.abnormalVitals - f.criticalVitals) * 100 + f.waiting * 10 + f.drafts;
}

const text = (a: string | null | undefined, b: string | null | undefined) => (a ?? '').localeCompare(b ?? '', undefined, { numeric: true, sensitivity: 'base' });

function compare(a: WorklistRow, b: WorklistRow, key: SortKey): number {
  switch (key) {
    case 'name':
      return text(a.name, b.name);
    case 'age':
      // Youngest first when ascending: the later birth date is the smaller age.
      return text(b.birthDate, a.birthDate);
    case 'mrn':
      return text(a.mrn, b.mrn);
    case 'encounter':
      return text(a.latestEncounter?.date, b.latestEncounter?.date);
    case 'attention':
      return attentionOf(a) - attentionOf(b);
  }
}

/** Rows in the given order; ties by name, then id, so the order is stable. */
export function sortRows(rows: readonly WorklistRow[], sort: Sort): WorklistRow[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  return [...rows].sort((a, b) => sign * compare(a, b, sort.key) || text(a.name, b.name) || text(a.id, b.id));
}

/** The order a header's first click gives: attention and latest encounter start with the most (newest). */
export function firstDirection(key: SortKey): SortDirection {
  return key === 'attention' || key === 'encounter' ? 'descending' : 'ascending';
}
