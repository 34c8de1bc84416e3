/**
 * The cache store's typed API: every call the store answers, by name, with
 * the zod schema its arguments are checked against (in the worker, before
 * anything runs) and the type of its result, plus the messages between main
 * and the store's worker. Design and the full list of calls to come:
 * ./README.md. Only structured-clonable values cross: plain data, the
 * cache key as a transferred ArrayBuffer, the device key as a KeyObject.
 * Never add a call that takes SQL, a callback or a transaction handle: each
 * call is one transaction the store runs whole, audit entries included.
 */
import { KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { AppErrorShape } from '../../../shared/app-error';
import { AUDIT_ACTIONS, AUDIT_NETWORKS, AUDIT_OUTCOMES, AUDIT_SUBTYPES, type AuditNetwork } from '../../../shared/audit-entry';
import { noteDraftSchema, problemInputSchema, vitalsInputSchema } from '../../../shared/charting';
import {
  DRAFT_KINDS,
  fhirResourceSchema,
  type Conflict,
  type WaitingChange,
  workspaceStateSchema,
  type AuditEntryView,
  type Chart,
  type Draft,
  type PatientSummary,
  type WorklistRow,
  type WorkspaceState,
} from '../../../shared/contract';
import { FHIR_ID_PATTERN } from '../../../shared/fhir-id';
import { MAX_PUSH_CHANGES, changeResultSchema, pullCursorSchema, pulledResourceSchema, type OutgoingChange } from '../../../shared/sync-api';
import type { ChainHead, ChainReport } from '../audit-chain';
import { PAGE_CACHE_MIB_MAX, PAGE_CACHE_MIB_MIN } from '../page-cache-policy';
import type { CacheStats } from '../cache-maintenance';
import type { StoredGrant } from '../glass/glass-grants';
import type { RemovalOutcome } from './operations/glass-grant-rows';

/** Resources of one imported bundle: more than a 64 MiB bundle (MAX_BUNDLE_BYTES) can hold, at about 45 bytes per smallest entry. */
const IMPORT_RESOURCES_MAX = 2_000_000;
/** References per audit entry (as ../audit-chain.ts MAX_AUDIT_ENTITIES). */
const ENTITIES_MAX = 200;
/** An id as the cache stores it (FHIR ids are 64 at most; the store refuses only what cannot be one). */
const storedId = z.string().min(1).max(256);

export const auditRecordSchema = z.strictObject({
  action: z.enum(AUDIT_ACTIONS),
  subtype: z.enum(AUDIT_SUBTYPES),
  patientId: storedId.nullable(),
  entities: z.array(z.string().max(2048)).max(ENTITIES_MAX),
  query: z.string().max(10_000).nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
});

/** One resource of a parsed bundle (shared/fhir-bundle.ts BundleResource), as the import hands it over. */
export const bundleResourceSchema = z.strictObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/),
  id: storedId,
  fullUrl: z.string().max(4096).nullable(),
  resource: z.record(z.string(), z.unknown()),
  patientId: storedId.nullable(),
  index: z.number().int().nonnegative(),
});

/**
 * Resources per applyPullPage call: a slice commits in a few milliseconds, so
 * a chart.open issued during a first sync waits for at most one slice.
 */
export const PULL_SLICE = 100;

/** Resources of one recordChanges call (a vitals entry is six; the bench queues setup changes a thousand at a time). */
const RECORD_MAX = 2000;
const changeTime = z.string().min(1).max(40);
/** Idempotency keys the sync worker names (the push in flight, changes set aside). */
const keyList = z.array(z.string().max(64)).max(100_000);

/** One outbox entry as the sync worker pushes it: a change whose resource is its stored JSON text (see OutgoingChange). */
export interface OutboxEntry extends OutgoingChange {
  seq: number;
  attempts: number;
  /** Answered "conflict" without content before; sent again only on a passkey session. */
  held: boolean;
}

const seqSchema = z.number().int().nonnegative();
/** One point of a hash chain: an entry's seq and hash (seq 0 with the genesis hash is the start). */
const chainPointSchema = z.strictObject({ seq: seqSchema, hash: z.string().regex(/^[0-9a-f]{64}$/) });
/** An instant as the chain writes it (toISOString), so stored times compare as text. */
const isoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
/** An export or print entry as ../export/export-audit.ts builds it (a refusal, a failed write). */
const exportAuditSchema = z.strictObject({
  subtype: z.enum(['export', 'print']),
  patientId: storedId.nullable(),
  format: z.string().min(1).max(64),
  reasonCode: z.string().min(1).max(64),
  query: z.string().max(10_000).nullable(),
  read: z.array(z.string().max(2048)).max(100_000),
  outcome: z.enum(AUDIT_OUTCOMES),
});

/**
 * A sync_state key a service may read and write: lower-case words, never the
 * pull cursor (it moves only with its page) nor a version kept beside the
 * queue (its prefix has characters this refuses).
 */
const syncStateKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/)
  .refine((k) => k !== 'pull_cursor', 'the pull cursor moves only with its page');

/** Arguments of every call, checked in the store before the call runs. */
export const storeCallArgs = {
  // --- glass, export, maintenance, consult
  /** Break-the-glass grants active at `now` (ISO), soonest expiry first. */
  activeGrants: z.strictObject({ now: isoTime }),
  /** A grant the backend gave, stored with its 'break-glass' entry (the grant first: the entry carries the emergency purpose). */
  storeGrant: z.strictObject({
    grant: z.strictObject({ patientId: storedId, grantedAt: isoTime, expiresAt: isoTime, reasonCode: z.string().min(1).max(64) }),
    entry: z.strictObject({ entities: z.array(z.string().max(2048)).max(ENTITIES_MAX), query: z.string().max(10_000).nullable() }),
  }),
  /** Ends grants over at `now` (and the ones in `over`, over on main's monotonic clock), removes ended grants' patients as far as waiting work allows; answers the grants still active. */
  checkGrants: z.strictObject({ now: isoTime, over: z.array(storedId).max(10_000) }),
  /** Where the next fetch of a granted patient's records resumes (null: from the start). */
  recordsCursor: z.strictObject({ patientId: storedId }),
  /** One slice of a fetched page of a granted patient's records (at most PULL_SLICE); the page's last slice stores the records cursor. */
  applyGlassRecords: z.strictObject({
    patientId: storedId,
    resources: z.array(pulledResourceSchema).max(PULL_SLICE),
    cursor: z.string().max(1024).nullable(),
    last: z.boolean(),
    /** main's wall clock: a grant not active at this instant refuses the slice (GLASS_REFUSED), so nothing arrives after the end. */
    now: isoTime,
  }),
  /** Whether the patient is in the cache; when not and `refusal` is given, that refused export or print is audited (outcome 4). */
  exportablePatient: z.strictObject({ patientId: storedId, refusal: exportAuditSchema.omit({ patientId: true, read: true, outcome: true }).nullable() }),
  /** print.prepare: the chart read (with chart.open's entries) and the print entries naming what was read, in one transaction; a patient not in the cache is a refusal, audited. */
  preparePrint: z.strictObject({ patientId: storedId, output: z.enum(['pdf', 'printer']), reasonCode: z.string().min(1).max(64), query: z.string().max(10_000).nullable() }),
  /** export.fhir: the patient summary Bundle built from the cache and its export entries, in one transaction; a patient not in the cache is a refusal, audited. */
  exportSummary: z.strictObject({
    patientId: storedId,
    author: z.strictObject({ actor: z.string().min(1).max(256), name: z.string().max(256).nullable() }),
    now: isoTime,
    reasonCode: z.string().min(1).max(64),
    query: z.string().max(10_000).nullable(),
  }),
  /** Counts by resource type, patients, audit entries and signed heads (no PHI); with `audit`, the command line's export entry in the same transaction. */
  cacheStats: z.strictObject({ audit: z.strictObject({ query: z.string().max(10_000).nullable() }).nullable() }),
  /** The command line's audit-export: its own entry, committed first; answers its seq (the export reads only what lies before it). */
  startAuditExport: z.strictObject({ query: z.string().max(10_000).nullable() }),
  /** One page of audit entries as BALP AuditEvents, seq in (afterSeq, beforeSeq), in order. */
  auditEventsPage: z.strictObject({ afterSeq: seqSchema, beforeSeq: seqSchema, limit: z.number().int().min(1).max(10_000) }),
  /** SQLite's integrity check over every page (each page's tag is checked as it is read); CACHE_CORRUPT when it fails. */
  integrityCheck: z.strictObject({}),
  /** One consistent, still-encrypted copy of the open cache at `file` (VACUUM INTO, checked with the key, then renamed into place); outside a transaction. */
  backupTo: z.strictObject({ file: z.string().min(1).max(4096) }),
  /** Prefix search over names, MRN and birth date; one BALP query entry per patient shown. */
  searchPatients: z.strictObject({ query: z.string().max(1000) }),
  /** A patient's chart, audited as a read naming what was read; not found is audited too (outcome 4). */
  openChart: z.strictObject({ patientId: storedId }),
  /** A patient's newest observations (the Results tab), audited as openChart is. */
  chartResults: z.strictObject({ patientId: storedId }),
  /** A patient's newest encounters (the Encounters tab, the consultation dialog), audited as openChart is. */
  chartEncounters: z.strictObject({ patientId: storedId }),
  /** "My patients" with what needs attention; audited like a search. */
  patientWorklist: z.strictObject({}),
  /** Who accessed this patient on this device, newest first (reads the log itself: no entry). */
  patientAccessTrail: z.strictObject({ patientId: storedId, limit: z.number().int().min(1).max(10_000) }),
  /** Entries for events that read nothing from the cache (consultations, break the glass, a refused import). */
  appendAudit: z.strictObject({ records: z.array(auditRecordSchema).min(1).max(200_000) }),
  /** A parsed bundle: refused whole on an id collision, else written with its C/U entries. */
  importResources: z.strictObject({ resources: z.array(bundleResourceSchema).max(IMPORT_RESOURCES_MAX) }),
  /**
   * One slice of a pulled page (at most PULL_SLICE resources): written with
   * its audit entries; the page's last slice also moves the cursor and drops
   * patients no longer assigned. Never a whole page of 2,000 in one call.
   */
  applyPullPage: z.strictObject({
    resources: z.array(pulledResourceSchema).max(PULL_SLICE),
    cursor: pullCursorSchema.nullable(),
    assignedPatients: z.array(z.string().regex(FHIR_ID_PATTERN)).max(100_000).nullable(),
    last: z.boolean(),
  }),
  /** Where the next pull starts (null: from the beginning). */
  pullCursor: z.strictObject({}),
  // --- sync state
  /** A sync bookkeeping value (null: none). Keys the store owns (the pull cursor, versions kept beside the queue) are refused. */
  syncState: z.strictObject({ key: syncStateKey }),
  /** Sets a sync bookkeeping value; null removes it. Never a secret, never PHI. */
  setSyncState: z.strictObject({ key: syncStateKey, value: z.string().max(64 * 1024).nullable() }),
  /** Saves a draft (C entry when created); a body with nothing typed removes it (D entry). */
  putDraft: z.strictObject({ patientId: storedId, kind: z.enum(DRAFT_KINDS), target: z.string().max(256), body: z.record(z.string(), z.string()), now: z.string().max(40) }),
  /** A patient's drafts (R entry when any); not found is audited too (outcome 4). */
  listDrafts: z.strictObject({ patientId: storedId }),
  /** Removes one draft (D entry when there was one). */
  clearDraft: z.strictObject({ patientId: storedId, kind: z.enum(DRAFT_KINDS), target: z.string().max(256) }),
  /** Removes every draft of `kind` for `target` (after a sign or an addendum). */
  clearDraftsOfTarget: z.strictObject({ kind: z.enum(DRAFT_KINDS), target: z.string().max(256) }),
  /** Where the clinician was (a patient that left the cache is not returned). */
  getWorkspace: z.strictObject({}),
  /** Merges workspace fields; a patient not in the cache is NOT_FOUND and nothing changes. */
  setWorkspace: z.strictObject({ changes: workspaceStateSchema.partial() }),
  /** Remembers the acting clinician's display name (at open). */
  rememberClinicianName: z.strictObject({}),
  /** The committed chain head, or null for an empty log. */
  auditHead: z.strictObject({}),
  /** Entries after `afterSeq`, in order, as stored (an audit upload's batch). */
  auditEntriesAfter: z.strictObject({ afterSeq: seqSchema, limit: z.number().int().min(1).max(20_000) }),
  /** How many entries lie at or before `upTo` (an upload's search for the last entry the backend shares). */
  auditCountUpTo: z.strictObject({ upTo: seqSchema }),
  /** The `index`-th entry (from 0) at or before `upTo`; null past the end. */
  auditEntryAt: z.strictObject({ upTo: seqSchema, index: z.number().int().nonnegative() }),
  /** Whether the chain holds the entry (seq, hash) a receipt names, or a rollback entry bridging from it. */
  chainHoldsEntry: chainPointSchema,
  /** After a rollback: the entries the backend never saw, re-chained behind a rollback entry following the backend's head. */
  continueAfterRollback: z.strictObject({ kept: chainPointSchema, backend: chainPointSchema }),
  /** The chain lacks a head this device kept: a signed rollback entry naming the lost range continues it. */
  recordLostRange: z.strictObject({ lost: chainPointSchema }),
  /** Recomputes the chain from `fromSeq` and checks every signed head. */
  verifyChain: z.strictObject({ fromSeq: z.number().int().min(1).optional() }),
  /** Signs the head now (force) or when SIGN_EVERY_ENTRIES are unsigned. */
  signHead: z.strictObject({ force: z.boolean() }),
  // --- charting, outbox, conflicts, undo
  /**
   * One charting change: the resources it writes (checked against the cache
   * and built in the store for the clinician's calls), their outbox and
   * audit entries, and the draft it completes, removed in the same
   * transaction. All or nothing.
   */
  recordChanges: z.strictObject({
    change: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('resources'), resources: z.array(fhirResourceSchema).min(1).max(RECORD_MAX), group: z.boolean().optional() }),
      z.strictObject({ kind: z.literal('vitals'), input: vitalsInputSchema, now: changeTime }),
      z.strictObject({ kind: z.literal('noteDraft'), draft: noteDraftSchema, now: changeTime }),
      z.strictObject({ kind: z.literal('sign'), noteId: storedId, now: changeTime }),
      z.strictObject({ kind: z.literal('addendum'), noteId: storedId, text: z.string().max(20_000), now: changeTime }),
      z.strictObject({ kind: z.literal('problem'), input: problemInputSchema, now: changeTime }),
    ]),
    clearDraft: z.strictObject({ patientId: storedId, kind: z.enum(DRAFT_KINDS), target: z.string().max(256) }).optional(),
    clearDraftsOfTarget: z.strictObject({ kind: z.enum(DRAFT_KINDS), target: z.string().max(256) }).optional(),
  }),
  /**
   * The next entries to push, oldest first (a second change of a resource waits for the first);
   * held entries only when `sendHeld` and not in `heldSentAlready`; none of `setAside`.
   */
  pendingChanges: z.strictObject({ limit: z.number().int().min(1).max(MAX_PUSH_CHANGES), sendHeld: z.boolean(), heldSentAlready: keyList, setAside: keyList }),
  /** Counts a push of these entries before it goes out; answers the ones still queued (only those may be sent). */
  markSent: z.strictObject({ keys: keyList }),
  /** Gives back the attempt of a push that never reached the backend. */
  unmarkSent: z.strictObject({ keys: keyList }),
  /** Which of these entries are still in the outbox. */
  stillQueued: z.strictObject({ keys: keyList }),
  /** The backend's answers to a push: applied, conflict (with or without content), refused. */
  settlePush: z.strictObject({ results: z.array(changeResultSchema).max(MAX_PUSH_CHANGES) }),
  /** Pending entries made after `since` (the undo window). */
  changesSince: z.strictObject({ since: changeTime }),
  /** Waiting, refused and conflict counts for the sync status. */
  syncCounts: z.strictObject({}),
  /** The backend's distinct refusal reasons. */
  refusedReasons: z.strictObject({ limit: z.number().int().min(1).max(100) }),
  /** Entries held for a passkey session. */
  heldCount: z.strictObject({}),
  /** Every entry in the outbox. */
  outboxSize: z.strictObject({}),
  /** Takes back the resource's latest queued change and its group (U/D entries), or refuses whole. */
  undoChange: z.strictObject({ resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/), resourceId: storedId, sending: keyList }),
  /** Outbox entries and conflicts, newest first; one query entry per patient listed. */
  listWaitingChanges: z.strictObject({ sending: keyList, setAside: keyList, limit: z.number().int().min(1).max(10_000) }),
  /** Open conflicts, oldest first; one R entry per patient shown. */
  listConflicts: z.strictObject({ limit: z.number().int().min(1).max(10_000) }),
  /** The clinician's choice on one conflict, audited with the version chosen over. */
  resolveConflict: z.strictObject({ key: z.string().min(1).max(64), choice: z.enum(['mine', 'theirs']) }),
} as const;

export type StoreCallName = keyof typeof storeCallArgs;
export type StoreArgs<N extends StoreCallName> = z.input<(typeof storeCallArgs)[N]>;

export interface ImportSummary {
  resources: number;
  patients: number;
  byType: Record<string, number>;
}

/** What each call answers. */
export interface StoreResults {
  // --- glass, export, maintenance, consult
  activeGrants: StoredGrant[];
  storeGrant: { seq: number };
  checkGrants: { active: StoredGrant[]; removed: Record<string, RemovalOutcome> };
  recordsCursor: string | null;
  applyGlassRecords: { written: number };
  exportablePatient: boolean;
  preparePrint: { found: true; chart: Chart } | { found: false };
  exportSummary: { found: true; bundle: Record<string, unknown>; read: string[] } | { found: false };
  cacheStats: CacheStats;
  startAuditExport: { seq: number };
  auditEventsPage: Array<{ seq: number; event: Record<string, unknown> }>;
  integrityCheck: null;
  backupTo: { bytes: number };
  searchPatients: { patients: PatientSummary[]; truncated: boolean };
  /** The chart as JSON text (`Chart`), built from the stored resources' JSON: main parses it. */
  openChart: { found: true; chartJson: string } | { found: false };
  /** The newest observations and their count as JSON text (`ChartGroup`): main parses it. */
  chartResults: { found: true; groupJson: string } | { found: false };
  /** The newest encounters and their count as JSON text (`ChartGroup`): main parses it. */
  chartEncounters: { found: true; groupJson: string } | { found: false };
  patientWorklist: { patients: WorklistRow[]; truncated: boolean };
  patientAccessTrail: AuditEntryView[];
  appendAudit: { seqs: number[] };
  importResources: ImportSummary;
  /** Resources written, and the distinct patients they belong to (ids only: the sync's progress counts them). */
  applyPullPage: { written: number; patients: string[] };
  putDraft: { updatedAt: string };
  listDrafts: { found: true; drafts: Draft[] } | { found: false };
  clearDraft: boolean;
  clearDraftsOfTarget: boolean;
  getWorkspace: WorkspaceState;
  setWorkspace: WorkspaceState;
  rememberClinicianName: null;
  pullCursor: string | null;
  // --- sync state
  syncState: string | null;
  setSyncState: null;
  auditHead: ChainHead | null;
  auditEntriesAfter: Array<{ seq: number; entry: string; prevHash: string; hash: string }>;
  auditCountUpTo: number;
  auditEntryAt: ChainHead | null;
  chainHoldsEntry: boolean;
  continueAfterRollback: { seq: number; rechained: number };
  recordLostRange: { seq: number };
  verifyChain: ChainReport;
  signHead: ChainHead | null;
  // --- charting, outbox, conflicts, undo
  recordChanges: { ids: string[]; keys: string[] };
  pendingChanges: OutboxEntry[];
  markSent: { marked: string[] };
  unmarkSent: null;
  stillQueued: string[];
  settlePush: null;
  changesSince: Array<{ seq: number; idempotencyKey: string; createdAt: string }>;
  syncCounts: { waiting: number; refused: number; conflicts: number };
  refusedReasons: string[];
  heldCount: number;
  outboxSize: number;
  undoChange: { undone: boolean };
  listWaitingChanges: { changes: WaitingChange[]; truncated: boolean };
  listConflicts: Conflict[];
  resolveConflict: { resourceType: string; resourceId: string };
}

export function isStoreCallName(name: string): name is StoreCallName {
  return Object.hasOwn(storeCallArgs, name);
}

/** Who acts and why for the whole time the store is open (the network state comes with each request). */
export const storeContextSchema = z.strictObject({
  actor: z.string().min(1).max(256),
  actorName: z.string().max(256).optional(),
  deviceId: z.string().min(1).max(128),
  purpose: z.string().min(1).max(64),
});
export type StoreContext = z.infer<typeof storeContextSchema>;

/** An Ed25519 KeyObject of the given half (KeyObject's constructor is private, so z.instanceof cannot name it). */
function ed25519Key(type: 'private' | 'public') {
  return z.custom<KeyObject>((k) => k instanceof KeyObject && k.type === type && k.asymmetricKeyType === 'ed25519', `not an Ed25519 ${type} key`);
}

/** The worker's `open`: the key arrives once, transferred; the worker zeroes it at close. */
export const storeOpenArgs = z.strictObject({
  file: z.string().min(1).max(4096),
  key: z.instanceof(ArrayBuffer).refine((b) => b.byteLength === 32, 'the cache key has the wrong length'),
  signingKey: ed25519Key('private'),
  publicKey: ed25519Key('public'),
  context: storeContextSchema,
  create: z.boolean(),
  cacheKiB: z.number().int().min(PAGE_CACHE_MIB_MIN * 1024).max(PAGE_CACHE_MIB_MAX * 1024).optional(),
});
export type StoreOpenArgs = z.infer<typeof storeOpenArgs>;

/** The worker's `close`: sign the head first unless the folder was lost to another writer. */
export const storeCloseArgs = z.strictObject({ signHead: z.boolean() });

/**
 * Lifecycle calls of the worker, beside the store calls: `writerLost` (main
 * lost the folder's writer lock: the connection turns query_only, so no
 * later write commits beside the other writer) and `restoreJournal` (the
 * -wal/-shm files were deleted under the open cache: fold every commit into
 * cache.db and make a new journal; answers whether it did).
 */
export const LIFECYCLE_CALLS = ['open', 'close', 'writerLost', 'restoreJournal'] as const;

/** One message from main to the worker. */
export const storeRequestSchema = z.strictObject({
  id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  call: z.string().max(64),
  args: z.unknown(),
  /** Whether the device is connected, recorded in each audit entry this request writes. */
  network: z.enum(AUDIT_NETWORKS).nullable().optional(),
});
export type StoreRequest = { id: number; call: StoreCallName | (typeof LIFECYCLE_CALLS)[number]; args: unknown; network?: AuditNetwork | null };

/** One answer from the worker: the committed chain head rides along, for main's keychain copy. */
export type StoreReply =
  | { id: number | null; ok: true; value: unknown; head: ChainHead | null }
  | { id: number | null; ok: false; error: AppErrorShape };

/** The store as services see it, wherever it runs. */
export interface CacheStore {
  call<N extends StoreCallName>(name: N, args: StoreArgs<N>): Promise<StoreResults[N]>;
  /** Closes the store; every later call is refused with STORE_CLOSED. */
  close(options?: { signHead?: boolean }): Promise<void>;
  readonly closed: boolean;
}
