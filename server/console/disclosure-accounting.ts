/**
 * A patient's accounting of disclosures for the privacy console: every
 * entry of the patient's trail (the devices' uploaded chains and the
 * backend's own disclosure chain, merged by server/audit/patient-trail.ts),
 * as rows for the page and, whole, as a FHIR R4 Bundle of the stored BALP
 * AuditEvents or as CSV. A search's text stays out (it may name other
 * patients); the reason given for an export, a print or a break of the
 * glass stays in. Reads only; callers authorize and audit in the same
 * transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../database';
import { TRAIL_PAGE_MAX, patientTrailPage } from '../audit/patient-trail';
import type { DisclosureRow } from '../../shared/privacy-console-api';
import { disclosureRow } from './disclosure-rows';

type Json = Record<string, unknown>;

/** Rows shown on the page at once. */
export const ACCOUNTING_PAGE_ROWS = 200;
/** The most entries one export holds (a chart read daily for years stays far below it). */
export const ACCOUNTING_EXPORT_MAX = 50_000;

const REASON_SUBTYPES = new Set(['export', 'print', 'break-glass']);

/** The event without its query entity, unless the query is the reason of an export, a print or a break of the glass. */
function withoutSearchText(event: Json): Json {
  const subtypes = Array.isArray(event.subtype) ? (event.subtype as Json[]) : [];
  if (subtypes.some((s) => REASON_SUBTYPES.has(String(s.code)))) return event;
  const entity = Array.isArray(event.entity) ? (event.entity as Json[]) : [];
  return { ...event, entity: entity.filter((e) => (e.role as Json | undefined)?.code !== '24') };
}

/** Up to `max` newest events of the patient's trail, and whether older ones remain. */
export async function accountingEvents(db: Db, patientId: string, max: number): Promise<{ events: Json[]; more: boolean }> {
  const events: Json[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await patientTrailPage(db, patientId, { cursor, limit: Math.min(TRAIL_PAGE_MAX, max - events.length), withSearchText: true });
    events.push(...page.events.map(withoutSearchText));
    if (!page.next) return { events, more: false };
    if (events.length >= max) return { events, more: true };
    cursor = page.next;
  }
}

export function accountingRows(events: Json[]): DisclosureRow[] {
  return events.map(disclosureRow);
}

/** The events as a FHIR R4 Bundle (collection) of AuditEvents, newest first. */
export function accountingBundle(events: Json[], at: Date): Json {
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'collection',
    timestamp: at.toISOString(),
    total: events.length,
    entry: events.map((resource) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource })),
  };
}
