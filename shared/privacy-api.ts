/**
 * The privacy officer's flags of unusual access (issue 13): their shape and
 * the routes that list, show and acknowledge them (server/privacy/). A flag
 * names a clinician, maybe a patient, the rule that fired, one sentence
 * saying why, and its evidence: references to audit entries (a device's
 * entry by device id and seq, or the backend's disclosure by seq) and the
 * numbers that made the rule fire. Never resource content, search text, a
 * key or a token.
 */
import { z } from 'zod';

/** The monitoring rules (issue 13 item 4, a–h). New ids may be added; none renamed. */
export const PRIVACY_RULES = [
  'break-glass',
  'unassigned-access',
  'volume-spike',
  'after-hours',
  'same-surname-or-address',
  'vip-or-staff',
  'many-charts-no-charting',
  'offline-burst',
] as const;
export const privacyRuleSchema = z.enum(PRIVACY_RULES);
export type PrivacyRule = z.infer<typeof privacyRuleSchema>;

/** One audit entry a flag rests on: a device's uploaded entry, or the backend's own disclosure entry. */
export const evidenceRefSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('device'), deviceId: z.string().max(64), seq: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('backend'), seq: z.number().int().positive() }),
]);
export type EvidenceRef = z.infer<typeof evidenceRefSchema>;

/** At most this many references are stored on one flag; `refsTotal` says how many there were. */
export const EVIDENCE_REFS_MAX = 50;

export const flagEvidenceSchema = z.strictObject({
  refs: z.array(evidenceRefSchema).max(EVIDENCE_REFS_MAX),
  refsTotal: z.number().int().nonnegative(),
  /** The numbers (and short facts) that made the rule fire, e.g. { today: 48, median: 12, mad: 2, threshold: 27 }. */
  numbers: z.record(z.string().max(40), z.union([z.number(), z.string().max(200), z.boolean()])),
});
export type FlagEvidence = z.infer<typeof flagEvidenceSchema>;

export const FLAG_STATUSES = ['open', 'acknowledged'] as const;
export const flagStatusSchema = z.enum(FLAG_STATUSES);
export type FlagStatus = z.infer<typeof flagStatusSchema>;

/**
 * A flag's rule as stored: one of PRIVACY_RULES, or (a row written by a newer
 * backend sharing the database) another rule id, shown by its id.
 */
export const flagRuleSchema = z.union([privacyRuleSchema, z.string().regex(/^[a-z0-9-]{1,64}$/)]);

export const privacyFlagSchema = z.object({
  id: z.string().max(64),
  rule: flagRuleSchema,
  clinicianId: z.string().max(128),
  patientId: z.string().max(64).nullable(),
  /** One sentence: why this rule fired (no PHI beyond the ids above). */
  explanation: z.string().max(500),
  evidence: flagEvidenceSchema,
  /** When the access happened (the earliest entry the flag rests on), ISO 8601. */
  at: z.string().max(40),
  /** When the backend raised the flag. */
  raisedAt: z.string().max(40),
  status: flagStatusSchema,
  acknowledgement: z.object({ by: z.string().max(128), at: z.string().max(40), note: z.string().max(2000) }).nullable(),
});
export type PrivacyFlag = z.infer<typeof privacyFlagSchema>;

export const FLAG_PAGE_DEFAULT = 50;
export const FLAG_PAGE_MAX = 200;

export const PRIVACY_FLAGS_PATH = '/v1/privacy/flags';
export const privacyFlagPath = (id: string) => `${PRIVACY_FLAGS_PATH}/${encodeURIComponent(id)}`;
export const privacyFlagAckPath = (id: string) => `${privacyFlagPath(id)}/acknowledge`;

/** GET PRIVACY_FLAGS_PATH?status=open&limit=50&cursor=… (newest activity first). */
export const flagListQuerySchema = z.object({
  status: flagStatusSchema.default('open'),
  rule: privacyRuleSchema.optional(),
  clinicianId: z.string().max(128).optional(),
  patientId: z.string().max(64).optional(),
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(FLAG_PAGE_MAX).default(FLAG_PAGE_DEFAULT),
});
export type FlagListQuery = z.input<typeof flagListQuerySchema>;
export const flagListReplySchema = z.object({ flags: z.array(privacyFlagSchema), next: z.string().nullable() });
export type FlagListReply = z.infer<typeof flagListReplySchema>;

/** GET privacyFlagPath(id) */
export const flagReplySchema = z.object({ flag: privacyFlagSchema });

/** POST privacyFlagAckPath(id): a note is required (what the officer found or did). */
export const flagAckBodySchema = z.strictObject({ note: z.string().trim().min(1).max(2000) });
export type FlagAckBody = z.infer<typeof flagAckBodySchema>;
