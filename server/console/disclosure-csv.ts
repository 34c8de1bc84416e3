/**
 * The accounting of disclosures as CSV (RFC 4180: every cell quoted, quotes
 * doubled, CRLF lines). A cell that a spreadsheet would run as a formula
 * (starting with = + - @, or a tab or carriage return that some programs
 * strip first) gets a leading apostrophe (OWASP's CSV injection advice), so
 * a reason or id typed by a clinician can never execute in the officer's
 * spreadsheet. Never write a search text here: the rows carry none. An
 * export streamed in pieces ends with a line saying how many entries it
 * holds (disclosureCsvEnd), so one broken off midway shows.
 */
import type { DisclosureRow } from '../../shared/privacy-console-api';

export const CSV_COLUMNS = ['recorded', 'who', 'patient', 'action', 'what', 'outcome', 'purpose', 'network', 'device', 'recorded_by', 'reason', 'resources', 'marks'] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell, neutralised against formula injection and quoted. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return `"${safe.replace(/"/g, '""')}"`;
}

const rowCells = (r: DisclosureRow) =>
  [r.recorded, r.who, r.patientId ?? '', r.action, r.what, r.outcome, r.purpose, r.network, r.deviceId, r.recordedBy, r.reason, r.resources.join(' '), r.marks.join(' ')].map(csvCell).join(',');

export const disclosureCsvHeader = () => `${CSV_COLUMNS.map(csvCell).join(',')}\r\n`;
export const disclosureCsvLines = (rows: DisclosureRow[]) => rows.map((r) => `${rowCells(r)}\r\n`).join('');
export const disclosureCsvEnd = (entries: number) => `${csvCell(`# end of accounting: ${entries} entries`)}\r\n`;

export function disclosureCsv(rows: DisclosureRow[]): string {
  return disclosureCsvHeader() + disclosureCsvLines(rows);
}
