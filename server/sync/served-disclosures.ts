/**
 * What a sync answer discloses, as the server audit's Disclosure items: one
 * per patient (at most MAX_ENTITIES `Type/id` references each, so one big
 * page does not make one huge event). References only, never content.
 */
import type { Disclosure } from '../audit/disclosure-ledger';

export const MAX_ENTITIES = 200;

/** Groups `Type/id` references by patient into items of at most MAX_ENTITIES. */
export function disclosuresByPatient(
  byPatient: ReadonlyMap<string, Iterable<string>>,
  kind: Pick<Disclosure, 'action' | 'subtype' | 'query'>,
): Disclosure[] {
  const items: Disclosure[] = [];
  for (const [patientId, refs] of byPatient) {
    const all = [...refs];
    for (let i = 0; i < all.length; i += MAX_ENTITIES) {
      items.push({ ...kind, patientId, entities: all.slice(i, i + MAX_ENTITIES), outcome: '0' });
    }
  }
  return items;
}
