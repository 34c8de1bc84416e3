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
/**
 * Most bytes of serialized changes a device puts in one push: half the
 * backend's push body limit (PUSH_BODY_LIMIT, 8 MiB), so envelope and
 * escaping never reach it. A change larger than this alone goes alone.
 */
export const MAX_PUSH_BYTES = 4 * 1024 * 1024;
/** The backend's push body limit: a larger push is answered 413. */
export const PUSH_BODY_LIMIT = 8 * 1024 * 1024;

export const changeSchema = z.strictObject({
  idempotencyKey: z.uuid(),
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/),
  id: z.string().regex(FHIR_ID_PATTERN),
  /** meta.versionId the change was made on; null for a new resource. */
  baseVersion: z.string().max(32).nullable(),
  resource: z.looseObject({ resourceType: z.string(), id: z.string() }),
});
export type Change = z.infer<typeof changeSchema>;
/**
 * A change as the device sends it: its resource as the JSON text the cache
 * stored (written by JSON.stringify), put into the push's body as it is, so a
 * push of 500 is never parsed and encoded again on its way out.
 */
export type OutgoingChange = Omit<Change, 'resource'> & { resourceJson: string };

export const changeResultSchema = z.discriminatedUnion('status', [
  z.object({ idempotencyKey: z.uuid(), status: z.literal('applied'), versionId: z.string().max(32) }),
  z.object({
    idempotencyKey: z.uuid(),
    status: z.literal('conflict'),
    /**
     * The backend's current version of the resource: only for a session that
     * may read it (a passkey session of a clinician assigned to the patient).
     * A sync-only session gets the version number alone.
     */
    current: z.looseObject({ resourceType: z.string(), id: z.string() }).optional(),
    currentVersion: z.string().max(32),
  }),
  z.object({ idempotencyKey: z.uuid(), status: z.literal('refused'), reason: z.string().max(200) }),
]);
export type ChangeResult = z.infer<typeof changeResultSchema>;

export const pushRequestSchema = z.strictObject({ changes: z.array(changeSchema).min(1).max(MAX_PUSH_CHANGES) });
export const pushReplySchema = z.object({ results: z.array(changeResultSchema).max(MAX_PUSH_CHANGES) });
export const PUSH_PATH = '/v1/sync/push';

/** Resources per pull page; a page of typical resources stays well under the client's reply limit. */
export const MAX_PULL_RESOURCES = 2000;
export const PULL_PATH = '/v1/sync/pull';

/**
 * Where a pull resumes: the last resource sent, as "changeSeq/Type/id" in the
 * backend's (changeSeq, type, id) order. Opaque to the device, which stores
 * it with the resources it came with. Absent: from the beginning.
 */
export const pullCursorSchema = z.string().regex(/^\d{1,15}\/[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}$/);

/**
 * A pull's query string: the cursor (absent: from the beginning) and
 * `estimate=1` to have the page say how many resources remain after it
 * (`remaining`; ask on a sync run's first page, and count down from there).
 * Any other value of either is refused; other parameters are ignored.
 */
export const pullQuerySchema = z.object({
  cursor: pullCursorSchema.optional(),
  estimate: z.literal('1').optional(),
});
export type PullQuery = z.infer<typeof pullQuerySchema>;

export const pulledResourceSchema = z.looseObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/),
  id: z.string().regex(FHIR_ID_PATTERN),
  meta: z.looseObject({ versionId: z.string().regex(/^\d{1,15}$/) }),
});
export type PulledResource = z.infer<typeof pulledResourceSchema>;

export const pullReplySchema = z.object({
  resources: z.array(pulledResourceSchema).max(MAX_PULL_RESOURCES),
  /** Where the next pull starts; unchanged when nothing new was sent. */
  cursor: pullCursorSchema.nullable(),
  /** More pages wait now: pull again at once. */
  more: z.boolean(),
  /** On the last page: every patient now assigned; the device drops any other it holds. */
  assignedPatients: z.array(z.string().regex(FHIR_ID_PATTERN)).max(100_000).optional(),
  /**
   * Only when the pull asked `estimate=1`: how many resources the caller may
   * read come after this page, counted when the page was read (0 on the last
   * page). Writes after that (new changes, assignments) are not in it.
   */
  remaining: z.number().int().nonnegative().optional(),
});
export type PullReply = z.infer<typeof pullReplySchema>;
