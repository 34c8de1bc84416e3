/**
 * Parses and checks a FHIR R4 Bundle before anything is written: JSON, a
 * Bundle of an importable type, FHIR R4 and not an older release
 * (FHIR_VERSION_UNSUPPORTED, see fhir-release.ts), every entry with a
 * resource that has a type and an id (taken from a urn:uuid or a
 * `.../Type/id` fullUrl when the resource has none; a fullUrl that disagrees
 * with the id is refused), each resource's patient, one Type/id never given
 * to two patients (IMPORT_ID_COLLISION), and size limits that stop a hostile
 * file from exhausting memory. Errors name the entry index (and a Type/id:
 * an id is not PHI), never a value from the bundle (values are PHI).
 */
import { z } from 'zod';
import { AppError } from './app-error';
import { FHIR_ID_PATTERN } from './fhir-id';
import { patientIdOf } from './fhir-fields';
import { notR4Evidence, notR4Message } from './fhir-release';

export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
export const MAX_STRING_CHARS = 8 * 1024 * 1024;
export const MAX_JSON_DEPTH = 64;
export const IMPORTABLE_BUNDLE_TYPES = ['batch', 'transaction', 'collection', 'searchset'] as const;

const RESOURCE_TYPE_PATTERN = /^[A-Z][A-Za-z]{1,63}$/;

const entrySchema = z.object({
  fullUrl: z.string().max(4096).optional(),
  resource: z.looseObject({
    resourceType: z.string().regex(RESOURCE_TYPE_PATTERN),
    id: z.string().regex(FHIR_ID_PATTERN).optional(),
  }),
  request: z.looseObject({ method: z.string().optional() }).optional(),
});

const bundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.enum(IMPORTABLE_BUNDLE_TYPES),
  entry: z.array(z.unknown()).optional(),
});

export interface BundleResource {
  resourceType: string;
  id: string;
  fullUrl: string | null;
  resource: Record<string, unknown>;
  /** The patient it belongs to (bundle-local urn:uuid references resolved), or null. */
  patientId: string | null;
  /** Its position in Bundle.entry, for messages. */
  index: number;
}

function invalid(message: string): AppError {
  return new AppError('BUNDLE_INVALID', `The bundle was not imported: ${message}. Nothing from it was stored.`);
}

/** Walks the parsed JSON without recursion, refusing huge strings and deep nesting. */
function checkLimits(value: unknown): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > MAX_STRING_CHARS) throw invalid('it contains a text value larger than the limit');
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) throw invalid('it is nested too deeply');
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
    }
  }
}

/** The id a fullUrl gives: a urn:uuid, or the `Type/id` an absolute URL ends with (any other form gives none). */
function fullUrlId(fullUrl: string | undefined): { type: string | null; id: string } | null {
  if (fullUrl === undefined) return null;
  const uuid = fullUrl.match(/^urn:uuid:([A-Za-z0-9\-.]{1,64})$/);
  if (uuid) return { type: null, id: uuid[1]! };
  const rest = fullUrl.match(/^[a-z][a-z0-9+.-]*:\/\/[^?#]*\/([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/?#]+)?$/i);
  return rest ? { type: rest[1]!, id: rest[2]! } : null;
}

/** Parses bundle text (or bytes) into its resources, or throws BUNDLE_INVALID, FHIR_VERSION_UNSUPPORTED or IMPORT_ID_COLLISION. */
export function parseBundle(input: string | Uint8Array): BundleResource[] {
  const size = typeof input === 'string' ? new TextEncoder().encode(input).length : input.length;
  if (size > MAX_BUNDLE_BYTES) throw invalid('the file is larger than the limit');
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input));
  } catch {
    throw invalid('it is not valid JSON');
  }
  const bundle = bundleSchema.safeParse(parsed);
  if (!bundle.success) {
    throw invalid('it is not a FHIR Bundle of type batch, transaction, collection or searchset');
  }
  checkLimits(parsed);
  // Before the entries' own checks: an older release often fails them, and the clinician should hear the real reason.
  const older = notR4Evidence(bundle.data);
  if (older) throw new AppError('FHIR_VERSION_UNSUPPORTED', notR4Message(older));

  const resources: BundleResource[] = [];
  (bundle.data.entry ?? []).forEach((raw, index) => {
    const entry = entrySchema.safeParse(raw);
    if (!entry.success) throw invalid(`entry ${index} has no resource with a valid type and id`);
    const { resource, fullUrl, request } = entry.data;
    const fromUrl = fullUrlId(fullUrl);
    if (fromUrl?.type != null && (fromUrl.type !== resource.resourceType || (resource.id !== undefined && fromUrl.id !== resource.id))) {
      // R4: a fullUrl that is not a urn:uuid SHALL agree with the resource's type and id; references to either would mean different things.
      throw invalid(`entry ${index} has a fullUrl that disagrees with its resource's type or id`);
    }
    let id = resource.id ?? fromUrl?.id ?? null;
    if (id === null && request?.method === 'POST') id = globalThis.crypto.randomUUID();
    if (id === null) throw invalid(`entry ${index} has a resource without an id`);
    resources.push({ resourceType: resource.resourceType, id, fullUrl: fullUrl ?? null, resource, patientId: null, index });
  });

  const localPatients = new Map<string, string>();
  for (const r of resources) if (r.resourceType === 'Patient' && r.fullUrl) localPatients.set(r.fullUrl, r.id);
  const seen = new Map<string, BundleResource>();
  for (const r of resources) {
    r.patientId = patientIdOf(r.resourceType, r.id, r.resource, localPatients);
    const key = `${r.resourceType}/${r.id}`;
    const first = seen.get(key);
    if (first && first.patientId !== r.patientId) {
      throw new AppError(
        'IMPORT_ID_COLLISION',
        `The bundle was not imported: entry ${r.index} (${key}) has the id of entry ${first.index}, for a different patient. Nothing from it was stored.`,
      );
    }
    if (first) throw invalid(`entry ${r.index} repeats a resource already in the bundle`);
    seen.set(key, r);
  }
  return resources;
}
