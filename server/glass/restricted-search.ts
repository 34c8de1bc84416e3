/**
 * The restricted search behind break the glass: which Patient records the
 * backend holds match a clinician's search text, among the patients that
 * clinician is neither assigned to nor holds an active grant for. The
 * answer says only that a match exists: an opaque handle (./grant-store)
 * and a neutral label, at most GLASS_MATCHES_MAX, in random order. Never a
 * name, a birth date, an identifier, a patient id, or a count beyond the
 * list. The answer must be no oracle: an identifier query is one word that
 * equals an identifier exactly (case folded), never combined with name words
 * (else "MRN-x ab", "MRN-x abc"… spells the name out); a name query's every
 * word must equal a whole name word (given, family, text, prefix; case and
 * accents folded), never a prefix. A family name alone, or "Smith John" in
 * either order, still finds the patient in an emergency. The text reaches SQL only as a bound LIKE parameter with its
 * wildcards escaped, never as SQL. The search is recorded in the backend's
 * disclosure ledger in the transaction that issues the handles, naming no
 * patient (it disclosed none): its text and how many matches it answered.
 */
import { sql } from 'kysely';
import { GLASS_HANDLE_MINUTES, GLASS_MATCHES_MAX, RESTRICTED_LABEL, type GlassSearchReply } from '../../shared/glass-api';
import { badRequest } from '../api-error';
import type { Caller } from '../auth/caller';
import { plusMinutes, type Clock } from '../clock';
import type { Db } from '../database';
import { recordDisclosures } from '../audit/disclosure-ledger';
import { grantedAmong, issueHandles } from './grant-store';

/** Patient records read to check per search: a very common name finds some of its patients, and the clinician refines. */
export const GLASS_CANDIDATES_MAX = 200;
const WORDS_MAX = 4;
const WORD_MIN = 2;
/** Letters, digits and what names and identifiers hold; anything else is refused, not searched. */
const ALLOWED = /^[\p{L}\p{N} .'\-_/:]+$/u;

/** The search's entity in the ledger: how many restricted matches were answered (no patient). */
export const searchMatchesEntity = (n: number) => `urn:clinician-desktop:break-glass:matches:${n}`;

const fold = (text: string) =>
  text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase();

/** The search's words, folded; refuses text that is not a name or an identifier search. */
export function searchWords(text: string): string[] {
  const words = fold(text.trim()).split(/\s+/).filter(Boolean);
  if (!ALLOWED.test(text.trim()) || words.length === 0 || words.length > WORDS_MAX || words.some((w) => w.length < WORD_MIN)) {
    throw badRequest('INVALID_REQUEST', 'Search by name or identifier: up to 4 words of at least 2 characters.');
  }
  return words;
}

type Json = Record<string, unknown>;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x): x is Json => !!x && typeof x === 'object') : []);

/** Whether the search is the patient's identifier alone (exactly), or every word is one of their whole name words. */
export function patientMatches(patient: Json, words: string[]): boolean {
  const nameWords = objects(patient.name)
    .flatMap((n) => [...strings(n.text), ...strings(n.family), ...strings(n.given), ...strings(n.prefix)])
    .flatMap((part) => fold(part).split(/[\s\-']+/))
    .filter(Boolean);
  const identifiers = new Set(objects(patient.identifier).flatMap((i) => strings(i.value).map(fold)));
  if (words.length === 1 && identifiers.has(words[0]!)) return true;
  return words.every((w) => nameWords.includes(w));
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function restrictedSearch(db: Db, caller: Caller, text: string, clock: Clock): Promise<GlassSearchReply> {
  const words = searchWords(text);
  // The longest word narrows the rows read; the match itself is checked on the parsed record.
  const longest = words.reduce((a, b) => (b.length > a.length ? b : a));
  const candidates = await db
    .selectFrom('resources as r')
    .select(['r.id', 'r.json'])
    .where('r.resource_type', '=', 'Patient')
    .where(sql<boolean>`lower(r.json) like ${`%${escapeLike(longest)}%`} escape '\\'`)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('assignments as a').select('a.patient_id').whereRef('a.patient_id', '=', 'r.id').where('a.clinician_id', '=', caller.clinicianId))))
    .orderBy('r.id')
    .limit(GLASS_CANDIDATES_MAX)
    .execute();
  const now = clock();
  const matching = candidates.filter((c) => {
    try {
      return patientMatches(JSON.parse(c.json) as Json, words);
    } catch {
      return false;
    }
  });
  const granted = await grantedAmong(db, caller.clinicianId, matching.map((m) => m.id), now);
  const restricted = shuffled(matching.filter((m) => !granted.has(m.id))).slice(0, GLASS_MATCHES_MAX);
  return db.transaction().execute(async (trx) => {
    const handles = await issueHandles(trx, caller, restricted.map((m) => m.id), now, plusMinutes(now, GLASS_HANDLE_MINUTES));
    await recordDisclosures(trx, caller, [{ action: 'E', subtype: 'search-type', patientId: null, entities: [searchMatchesEntity(handles.length)], outcome: '0', query: text.trim() }], clock);
    return { matches: handles.map((handle) => ({ handle, label: RESTRICTED_LABEL })) };
  });
}
