/**
 * How names and addresses are compared (same-surname-or-address rule): case,
 * diacritics and punctuation do not matter ("Müller-Lüdenscheidt" and
 * "MULLER LUDENSCHEIDT" are the same), and an address is its street lines
 * plus postal code (or city when there is none). Pure functions; never log
 * what they are given.
 */

export function normaliseText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A FHIR Address (the fields compared). */
export interface AddressLike {
  line?: string[] | undefined;
  city?: string | undefined;
  postalCode?: string | undefined;
}

/** The comparison key of an address, or null when it has no street line. */
export function addressKey(a: AddressLike): string | null {
  const line = normaliseText((a.line ?? []).join(' '));
  if (!line) return null;
  const place = normaliseText(a.postalCode ?? '').replace(/ /g, '') || normaliseText(a.city ?? '');
  return `${line}|${place}`;
}
