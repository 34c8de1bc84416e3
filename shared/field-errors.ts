/**
 * Invalid input, field by field, in the clinician's words: turns a zod error
 * from one of the contract's schemas into `FieldError`s (the field's path and
 * the schema's message), for dispatch in main and for the renderer checking
 * a form with the same schema before it sends, so both say the same thing.
 * A message written for clinicians is registered with `clinicianMessage` where
 * the schema is declared; any other text (zod's own) is generic.
 * Never put an input value into a field or a message: unknown keys are
 * reported without their names, path parts that are not plain names are
 * replaced, and given the schema, a path is cut where it leaves the names
 * the schema declares (a record's keys, such as a draft body's, are input).
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

/** The part of a zod schema's definition the walk reads (zod 4's `_zod.def`). */
interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  options?: readonly unknown[];
  element?: unknown;
  getter?: () => unknown;
}

function defOf(schema: unknown): SchemaDef | null {
  const def = (schema as { _zod?: { def?: SchemaDef } } | null | undefined)?._zod?.def;
  return def && typeof def === 'object' ? def : null;
}

/**
 * How many leading parts of `path` name the schema's own fields (object keys
 * it declares, array indexes). A record's keys are input, so the path stops
 * at the record; so it does at any key the schema does not declare.
 */
export function declaredDepth(schema: unknown, path: ReadonlyArray<PropertyKey>, depth = 0, guard = 0): number {
  const def = defOf(schema);
  if (!def || depth >= path.length || guard > 64) return depth;
  const next = (s: unknown, d: number) => declaredDepth(s, path, d, guard + 1);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
    case 'success':
      return next(def.innerType, depth);
    case 'lazy':
      return next(def.getter?.(), depth);
    case 'pipe':
      // The shorter of both sides: a key is declared only where both parse it.
      return Math.min(next(def.in, depth), next(def.out, depth));
    case 'union':
      return Math.max(depth, ...(def.options ?? []).map((o) => next(o, depth)));
    case 'object': {
      const key = path[depth];
      return typeof key === 'string' && def.shape && Object.hasOwn(def.shape, key) ? next(def.shape[key], depth + 1) : depth;
    }
    case 'array':
      return typeof path[depth] === 'number' ? next(def.element, depth + 1) : depth;
    default:
      // A record (its keys are input), or a schema that has no named parts: cut here.
      return depth;
  }
}

const UNKNOWN_FIELDS = 'The request has fields this action does not take.';

const RECORD_FIELD = 'This field has a name or value it does not take.';

/**
 * Each invalid field once, with its first message, in the schema's order; at
 * most MAX_FIELD_ERRORS. With `schema` (the one that was parsed), a path is
 * cut where it leaves the schema's declared names, and the message of an
 * issue so cut is a fixed one (zod's may name the key).
 */
export function fieldErrorsOf(error: { readonly issues: ReadonlyArray<IssueLike> }, schema?: unknown): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const issue of error.issues) {
    const depth = schema === undefined ? issue.path.length : declaredDepth(schema, issue.path);
    const cut = depth < issue.path.length;
    const field = fieldPathOf(issue.path.slice(0, depth));
    if (seen.has(field)) continue;
    seen.add(field);
    // zod names unknown keys in its message: they are input, so they are not repeated.
    const message =
      issue.code === 'unrecognized_keys' ? UNKNOWN_FIELDS : cut && !isClinicianMessage(issue.message) ? RECORD_FIELD : issue.message.slice(0, MESSAGE_MAX);
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
