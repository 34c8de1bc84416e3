/**
 * A patient's accounting of disclosures for the privacy console: every
 * entry of the patient's trail (the devices' uploaded chains and the
 * backend's own disclosure chain, merged by server/audit/patient-trail.ts),
 * as rows for the page, a page at a time behind the trail's cursor (so no
 * flood of newer entries can push an older disclosure out of reach), and,
 * whole, as a FHIR R4 Bundle of the stored BALP AuditEvents or as CSV,
 * streamed page by page so an export is never cut short (the Bundle's
 * `total` is the count it holds; the CSV's last line says how many entries
 * it holds, so a download broken off midway shows). A search's text stays
 * out (it may name other patients); the reason given for an export, a
 * print or a break of the glass stays in. Reads only; callers authorize and
 * audit.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../database';
import { TRAIL_PAGE_MAX, patientTrailPage } from '../audit/patient-trail';
import type { DisclosureRow } from '../../shared/privacy-console-api';
import { disclosureRow } from './disclosure-rows';
import { disclosureCsvEnd, disclosureCsvHeader, disclosureCsvLines } from './disclosure-csv';

type Json = Record<string, unknown>;

/** Rows shown on the page at once (older ones behind the page's cursor). */
export const ACCOUNTING_PAGE_ROWS = 200;

const REASON_SUBTYPES = new Set(['export', 'print', 'break-glass']);

/** The event without its query entity, unless the query is the reason of an export, a print or a break of the glass. */
function withoutSearchText(event: Json): Json {
  const subtypes = Array.isArray(event.subtype) ? (event.subtype as Json[]) : [];
  if (subtypes.some((s) => REASON_SUBTYPES.has(String(s.code)))) return event;
  const entity = Array.isArray(event.entity) ? (event.entity as Json[]) : [];
  return { ...event, entity: entity.filter((e) => (e.role as Json | undefined)?.code !== '24') };
}

/** One page of the accounting, newest first, and the cursor of the next (older) page, or null at the end. */
export async function accountingPage(db: Db, patientId: string, cursor: string | undefined): Promise<{ rows: DisclosureRow[]; next: string | null }> {
  const page = await patientTrailPage(db, patientId, { cursor, limit: ACCOUNTING_PAGE_ROWS, withSearchText: true });
  return { rows: page.events.map(withoutSearchText).map(disclosureRow), next: page.next };
}

/** Every event of the patient's trail, newest first, a trail page at a time. */
async function* accountingEvents(db: Db, patientId: string): AsyncGenerator<Json[]> {
  let cursor: string | undefined;
  for (;;) {
    const page = await patientTrailPage(db, patientId, { cursor, limit: TRAIL_PAGE_MAX, withSearchText: true });
    yield page.events.map(withoutSearchText);
    if (!page.next) return;
    cursor = page.next;
  }
}

/** The whole trail as a FHIR R4 Bundle (collection) of AuditEvents, newest first, as JSON text in pieces; `total` (last) is the count it holds. */
export async function* accountingBundleChunks(db: Db, patientId: string, at: Date): AsyncGenerator<string> {
  yield `{"resourceType":"Bundle","id":${JSON.stringify(randomUUID())},"type":"collection","timestamp":${JSON.stringify(at.toISOString())},"entry":[`;
  let n = 0;
  for await (const events of accountingEvents(db, patientId)) {
    const parts = events.map((resource) => JSON.stringify({ fullUrl: `urn:uuid:${randomUUID()}`, resource }));
    if (parts.length > 0) yield (n > 0 ? ',' : '') + parts.join(',');
    n += parts.length;
  }
  yield `],"total":${n}}`;
}

/** The whole trail as CSV in pieces: the header, every row, and a last line saying how many entries it holds. */
export async function* accountingCsvChunks(db: Db, patientId: string): AsyncGenerator<string> {
  yield disclosureCsvHeader();
  let n = 0;
  for await (const events of accountingEvents(db, patientId)) {
    if (events.length > 0) yield disclosureCsvLines(events.map(disclosureRow));
    n += events.length;
  }
  yield disclosureCsvEnd(n);
}
