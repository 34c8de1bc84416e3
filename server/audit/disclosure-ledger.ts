/**
 * The backend's own audit of what it discloses: every resource served (GET,
 * pull page, a conflict's current version) and every trail view becomes
 * BALP AuditEvents, one per patient, appended to the server's hash chain in
 * the same database transaction as the read. Never store resource content
 * here, only references.
 *
 * SKELETON (issue 8 in progress): the signature is fixed; the chain is
 * being built.
 */
import type { Db } from '../database';
import type { Clock } from '../clock';
import type { Caller } from '../auth/caller';

export interface Disclosure {
  /** 'R' a read of resources; 'E' a query (a pull page, a trail view). */
  action: 'R' | 'E';
  /** BALP restful-interaction subtype: 'read', 'vread', 'search-type'. */
  subtype: 'read' | 'vread' | 'search-type';
  patientId: string | null;
  /** `Type/id` of every resource disclosed for this patient. */
  entities: string[];
  /** '0' success; a refused or failed access is its own event with '4' or '8'. */
  outcome: '0' | '4' | '8';
  /** The request as received (path and query string), for queries; null otherwise. */
  query: string | null;
}

/** Appends one AuditEvent per disclosure to the server chain; call inside the reading transaction. */
export async function recordDisclosures(_trx: Db, _caller: Caller, _items: Disclosure[], _clock: Clock): Promise<void> {
  // being built
}
