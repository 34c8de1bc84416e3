/**
 * One audit entry and its canonical byte form, shared by the device (which
 * chains and signs entries) and the backend (which checks the chain it is sent).
 * The canonical form is a JSON array in a fixed field order: unambiguous, and
 * cheap enough to recompute over a million entries. Never change the order or
 * the version tag without a migration: old chains would stop verifying.
 */
import { z } from 'zod';

/** FHIR AuditEvent.action: Create, Read, Update, Delete, Execute (search). */
export const AUDIT_ACTIONS = ['C', 'R', 'U', 'D', 'E'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export const AUDIT_OUTCOMES = ['0', '4', '8', '12'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * BALP restful-interaction subtypes we record, plus the clinician's choice
 * on a sync conflict and the steps of a consultation (our own code system,
 * see balp-audit-event.ts). New codes may be added; none may be renamed.
 * 'vread' (a version read) is recorded by the backend only.
 */
export const AUDIT_SUBTYPES = [
  'read',
  'search-type',
  'create',
  'update',
  'delete',
  'conflict-keep-mine',
  'conflict-take-theirs',
  'vread',
  'rollback-detected',
  'consult-start',
  'consult-join',
  'consult-code-confirmed',
  'consult-end',
  'export',
  'print',
  'break-glass',
] as const;
export type AuditSubtype = (typeof AUDIT_SUBTYPES)[number];
export const CONFLICT_SUBTYPES: ReadonlySet<AuditSubtype> = new Set(['conflict-keep-mine', 'conflict-take-theirs']);
/**
 * A consultation on this desktop (issue 11): started here, joined by this
 * clinician (each time), the short authentication code confirmed as
 * matching, and ended (left, hung up, or ended by a lock). Each names the
 * call's patient; its entities are the Encounter and the call
 * (`consultCallEntity`). Never the code, a key or a token.
 */
export const CONSULT_SUBTYPES: ReadonlySet<AuditSubtype> = new Set(['consult-start', 'consult-join', 'consult-code-confirmed', 'consult-end']);
const CONSULT_CALL_URN = 'urn:clinician-desktop:consult-call:';
export function consultCallEntity(callId: string): string {
  return `${CONSULT_CALL_URN}${callId}`;
}
/**
 * Governed export and print (issue 13): 'export' is a FHIR Bundle (or, from
 * the cache command line, `audit-export`/`stats`) leaving the cache;
 * 'print' is a print or a PDF of the print view. Action 'R', the patient
 * named (null for a command-line run over every patient), entities: the
 * resources read plus `exportFacts(...)` URNs (format, reason code); the
 * reason's free text goes in `query`. Written in the same transaction as
 * the read.
 */
export const EXPORT_SUBTYPES: ReadonlySet<AuditSubtype> = new Set(['export', 'print']);
const EXPORT_URN = 'urn:clinician-desktop:export:';
export function exportFacts(f: { format: string; reason: string }): string[] {
  return [`${EXPORT_URN}format:${f.format}`, `${EXPORT_URN}reason:${f.reason}`];
}
/**
 * Break the glass (issue 13): 'break-glass' records the grant itself
 * (action 'E', the patient, the reason code as `exportFacts`-style URN, the
 * free text in `query`). Every entry written while a break-the-glass grant
 * for that patient is active carries purpose EMERGENCY_PURPOSE instead of
 * 'TREAT' (HL7 v3 PurposeOfUse ETREAT), on the device and on the backend.
 */
export const EMERGENCY_PURPOSE = 'ETREAT';
export const CONFLICT_SUBTYPE_SYSTEM = 'urn:clinician-desktop:audit-subtype';

/**
 * The device found its cache rolled back (a restored older copy, a lost
 * WAL): the entry continues the chain from the backend's last accepted entry
 * (so its seq is the backend's + 1 and its prev_hash the backend's hash) and
 * the device's entries the backend never saw follow it, re-chained. Action
 * 'E', no patient, outcome '0'; its entities are the facts below, as URNs.
 */
export const ROLLBACK_SUBTYPE = 'rollback-detected' satisfies AuditSubtype;

export interface RollbackFacts {
  /** The device's last entry the backend also holds (0 and the genesis hash: none). */
  keptSeq: number;
  keptHash: string;
  /** The backend's last accepted entry, which this entry follows. */
  backendSeq: number;
  backendHash: string;
  /** How many of the device's entries, never seen by the backend, follow this one re-chained. */
  rechained: number;
}

const ROLLBACK_URN = 'urn:clinician-desktop:audit-rollback:';
const ROLLBACK_FACT = new RegExp(`^${ROLLBACK_URN}(kept|backend):(\\d{1,15}):([0-9a-f]{64})$`);
const ROLLBACK_COUNT = new RegExp(`^${ROLLBACK_URN}rechained:(\\d{1,15})$`);

export function rollbackEntities(f: RollbackFacts): string[] {
  return [`${ROLLBACK_URN}kept:${f.keptSeq}:${f.keptHash}`, `${ROLLBACK_URN}backend:${f.backendSeq}:${f.backendHash}`, `${ROLLBACK_URN}rechained:${f.rechained}`];
}

/** The facts of a rollback entry; null unless the entry is one, with exactly these three entities. */
export function rollbackFacts(entry: Pick<AuditEntry, 'subtype' | 'entities' | 'patientId'>): RollbackFacts | null {
  if (entry.subtype !== ROLLBACK_SUBTYPE || entry.patientId !== null || entry.entities.length !== 3) return null;
  const kept = ROLLBACK_FACT.exec(entry.entities[0]!);
  const backend = ROLLBACK_FACT.exec(entry.entities[1]!);
  const count = ROLLBACK_COUNT.exec(entry.entities[2]!);
  if (!kept || kept[1] !== 'kept' || !backend || backend[1] !== 'backend' || !count) return null;
  return { keptSeq: Number(kept[2]), keptHash: kept[3]!, backendSeq: Number(backend[2]), backendHash: backend[3]!, rechained: Number(count[1]) };
}

/**
 * The other form of a rollback entry: the device found at open that its
 * chain is behind (or differs from) the chain head it had kept, signed, in
 * the OS keychain, so entries were lost that the backend may never have
 * seen (offline work, then an older copy restored; a lost WAL). It follows
 * the chain's last entry like any entry and names the range lost: from the
 * entry it follows (`kept`) to the head the keychain held (`lost`).
 */
export interface LostRangeFacts {
  keptSeq: number;
  keptHash: string;
  lostSeq: number;
  lostHash: string;
}

const LOST_FACT = new RegExp(`^${ROLLBACK_URN}lost:(\\d{1,15}):([0-9a-f]{64})$`);

export function lostRangeEntities(f: LostRangeFacts): string[] {
  return [`${ROLLBACK_URN}kept:${f.keptSeq}:${f.keptHash}`, `${ROLLBACK_URN}lost:${f.lostSeq}:${f.lostHash}`];
}

/** The facts of a lost-range rollback entry; null unless the entry is one, with exactly these two entities. */
export function lostRangeFacts(entry: Pick<AuditEntry, 'subtype' | 'entities' | 'patientId'>): LostRangeFacts | null {
  if (entry.subtype !== ROLLBACK_SUBTYPE || entry.patientId !== null || entry.entities.length !== 2) return null;
  const kept = ROLLBACK_FACT.exec(entry.entities[0]!);
  const lost = LOST_FACT.exec(entry.entities[1]!);
  if (!kept || kept[1] !== 'kept' || !lost) return null;
  return { keptSeq: Number(kept[2]), keptHash: kept[3]!, lostSeq: Number(lost[1]), lostHash: lost[2]! };
}

/** Whether the device was connected to the hospital server when the access happened (null: not known, v1 entries). */
export const AUDIT_NETWORKS = ['online', 'offline'] as const;
export type AuditNetwork = (typeof AUDIT_NETWORKS)[number];

/**
 * The actor of entries the cache command line writes: the OS account that
 * ran it, marked so it is never taken for a clinician (a clinician id holds
 * no ':'). Mapped to its own identifier system in balp-audit-event.ts.
 */
export const OS_USER_ACTOR_PREFIX = 'cli:';
export function osUserActor(username: string): string {
  return `${OS_USER_ACTOR_PREFIX}${username}`;
}

export const auditEntrySchema = z.object({
  seq: z.number().int().positive(),
  recordedAt: z.string(),
  actor: z.string(),
  action: z.enum(AUDIT_ACTIONS),
  subtype: z.enum(AUDIT_SUBTYPES),
  patientId: z.string().nullable(),
  /** References of the resources touched, e.g. "Observation/123". */
  entities: z.array(z.string()),
  /** The query text of a search (E), else null. */
  query: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  deviceId: z.string(),
  purpose: z.string(),
  network: z.enum(AUDIT_NETWORKS).nullable(),
});

export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** v2 adds `network` at the end; v1 entries (without it) still parse and verify, as their stored text is what is hashed. */
export const AUDIT_CANONICAL_VERSION = 'audit-entry/v2';
const AUDIT_CANONICAL_V1 = 'audit-entry/v1';

/** 64 hex zeros: the "previous hash" of the first entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

export function canonicalAuditEntry(e: AuditEntry): string {
  return JSON.stringify([
    AUDIT_CANONICAL_VERSION,
    e.seq,
    e.recordedAt,
    e.actor,
    e.action,
    e.subtype,
    e.patientId,
    e.entities,
    e.query,
    e.outcome,
    e.deviceId,
    e.purpose,
    e.network,
  ]);
}

/** The bytes a device signs to vouch for the chain up to and including `seq`. */
export function auditHeadMessage(deviceId: string, seq: number, hash: string): string {
  return `clinician-desktop audit head v1\n${deviceId}\n${seq}\n${hash}`;
}

/** Reads a canonical entry back; null when the text is not one. */
export function parseCanonicalAuditEntry(text: string): AuditEntry | null {
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(fields)) return null;
  const v2 = fields[0] === AUDIT_CANONICAL_VERSION && fields.length === 13;
  const v1 = fields[0] === AUDIT_CANONICAL_V1 && fields.length === 12;
  if (!v1 && !v2) return null;
  const [, seq, recordedAt, actor, action, subtype, patientId, entities, query, outcome, deviceId, purpose, network = null] = fields;
  const parsed = auditEntrySchema.safeParse({ seq, recordedAt, actor, action, subtype, patientId, entities, query, outcome, deviceId, purpose, network });
  return parsed.success ? parsed.data : null;
}

const CANONICAL_PREFIXES = [AUDIT_CANONICAL_VERSION, AUDIT_CANONICAL_V1].map((v) => `[${JSON.stringify(v)},`);

/** The sequence number inside a canonical entry, read without parsing the rest; NaN if absent. */
export function canonicalAuditSeq(text: string): number {
  const prefix = CANONICAL_PREFIXES.find((p) => text.startsWith(p));
  if (!prefix) return Number.NaN;
  const end = text.indexOf(',', prefix.length);
  return end === -1 ? Number.NaN : Number(text.slice(prefix.length, end));
}
