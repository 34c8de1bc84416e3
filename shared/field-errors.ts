/**
 * Invalid input, field by field, in the clinician's words: turns a zod error
 * from one of the contract's schemas into `FieldError`s (the field's path and
 * the schema's message), for dispatch in main and for the renderer checking
 * a form with the same schema before it sends, so both say the same thing.
 * A message written for clinicians is registered with `clinicianMessage` where
 * the schema is declared; any other text (zod's own) is generic.
 * Never put an input value into a field or a message: unknown keys are
 * reported without their names, and path parts that are not plain names are
 * replaced.
 */
import type { FieldError } from './app-error';

/** At most this many fields are reported (the rest are the same kind of mistake). */
export const MAX_FIELD_ERRORS = 10;
const FIELD_MAX = 40;
const MESSAGE_MAX = 200;

const OURS = new Set<string>();

/** Marks `message` as written for clinicians (shown as the error's headline); returns it. */
export function clinicianMessage(message: string): string {
  OURS.add(message);
  return message;
}

export function isClinicianMessage(message: string): boolean {
  return OURS.has(message);
}

/** The shape of a zod issue this needs (zod's own type, narrowed to what is read). */
export interface IssueLike {
  readonly code?: string;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/** The field's path joined by '.', each part a plain name or an index (anything else is '?'), capped. */
export function fieldPathOf(path: ReadonlyArray<PropertyKey>): string {
  const parts = path.map((p) => (typeof p === 'number' && Number.isInteger(p) ? String(p) : typeof p === 'string' && PLAIN_NAME.test(p) ? p : '?'));
  return parts.join('.').slice(0, FIELD_MAX);
}

const UNKNOWN_FIELDS = 'The request has fields this action does not take.';

/** Each invalid field once, with its first message, in the schema's order; at most MAX_FIELD_ERRORS. */
export function fieldErrorsOf(error: { readonly issues: ReadonlyArray<IssueLike> }): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const issue of error.issues) {
    const field = fieldPathOf(issue.path);
    if (seen.has(field)) continue;
    seen.add(field);
    // zod names unknown keys in its message: they are input, so they are not repeated.
    const message = issue.code === 'unrecognized_keys' ? UNKNOWN_FIELDS : issue.message.slice(0, MESSAGE_MAX);
    out.push({ field, message });
    if (out.length >= MAX_FIELD_ERRORS) break;
  }
  return out;
}

/** The error's headline: the first field's message written for clinicians, else a generic one naming the fields. */
export function invalidInputMessage(fields: readonly FieldError[]): string {
  const ours = fields.find((f) => isClinicianMessage(f.message));
  if (ours) return ours.message;
  const names = [...new Set(fields.map((f) => f.field || '(whole request)'))].slice(0, 3);
  return names.length > 0 ? `The request was malformed (${names.join(', ')}).` : 'The request was malformed.';
}
