/**
 * Parses and checks a FHIR R4 Bundle before anything is written: JSON, a
 * Bundle of an importable type, every entry with a resource that has a type
 * and an id, and size limits that stop a hostile file from exhausting memory.
 * Errors name the entry index, never a value from the bundle (values are PHI).
 */
import { z } from 'zod';
import { AppError } from './app-error';
import { FHIR_ID_PATTERN } from './fhir-id';

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

function idFromFullUrl(fullUrl: string | undefined): string | null {
  const match = fullUrl?.match(/^urn:uuid:([A-Za-z0-9\-.]{1,64})$/);
  return match ? match[1]! : null;
}

/** Parses bundle text (or bytes) into its resources, or throws BUNDLE_INVALID. */
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
  const resources: BundleResource[] = [];
  const seen = new Set<string>();
  (bundle.data.entry ?? []).forEach((raw, index) => {
    const entry = entrySchema.safeParse(raw);
    if (!entry.success) throw invalid(`entry ${index} has no resource with a valid type and id`);
    const { resource, fullUrl, request } = entry.data;
    let id = resource.id ?? idFromFullUrl(fullUrl);
    if (id === null && request?.method === 'POST') id = globalThis.crypto.randomUUID();
    if (id === null) throw invalid(`entry ${index} has a resource without an id`);
    const key = `${resource.resourceType}/${id}`;
    if (seen.has(key)) throw invalid(`entry ${index} repeats a resource already in the bundle`);
    seen.add(key);
    resources.push({ resourceType: resource.resourceType, id, fullUrl: fullUrl ?? null, resource });
  });
  return resources;
}
