/**
 * The sync contract between a device and the backend: pushes of local
 * changes, each carrying a client-made idempotency key and the version it was
 * made against, and the backend's per-change answer (applied with the new
 * version, or a conflict with the current version, or refused). The same key
 * twice gets the same answer and one write. Parsed on both sides.
 */
import { z } from 'zod';
import { FHIR_ID_PATTERN } from './fhir-id';

export const MAX_PUSH_CHANGES = 500;

export const changeSchema = z.strictObject({
  idempotencyKey: z.uuid(),
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/),
  id: z.string().regex(FHIR_ID_PATTERN),
  /** meta.versionId the change was made on; null for a new resource. */
  baseVersion: z.string().max(32).nullable(),
  resource: z.looseObject({ resourceType: z.string(), id: z.string() }),
});
export type Change = z.infer<typeof changeSchema>;

export const changeResultSchema = z.discriminatedUnion('status', [
  z.object({ idempotencyKey: z.uuid(), status: z.literal('applied'), versionId: z.string().max(32) }),
  z.object({
    idempotencyKey: z.uuid(),
    status: z.literal('conflict'),
    current: z.looseObject({ resourceType: z.string(), id: z.string() }),
    currentVersion: z.string().max(32),
  }),
  z.object({ idempotencyKey: z.uuid(), status: z.literal('refused'), reason: z.string().max(200) }),
]);
export type ChangeResult = z.infer<typeof changeResultSchema>;

export const pushRequestSchema = z.strictObject({ changes: z.array(changeSchema).min(1).max(MAX_PUSH_CHANGES) });
export const pushReplySchema = z.object({ results: z.array(changeResultSchema).max(MAX_PUSH_CHANGES) });
export const PUSH_PATH = '/v1/sync/push';
