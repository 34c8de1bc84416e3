/**
 * The renderer-to-main contract: every call the renderer may make, declared
 * once with a zod schema for its input and its output. Main parses every
 * input against it; the preload and the browser harness build
 * `window.clinician` from the same names. Inputs are strict objects with
 * bounded strings, so junk, oversized or prototype-polluting payloads are
 * refused before any handler runs. Never add a call that hands the renderer a
 * key, a token or a file path.
 */
import { z } from 'zod';
import type { Result } from './app-error';
import { fhirIdSchema } from './fhir-id';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, AUDIT_SUBTYPES } from './audit-entry';
import type { CallName } from './call-names';
import { noteDraftSchema, problemInputSchema, vitalsInputSchema } from './charting';
import {
  authenticationResponseSchema,
  clinicianIdSchema,
  creationOptionsSchema,
  deviceSchema,
  enrollmentCodeSchema,
  registrationResponseSchema,
  requestOptionsSchema,
} from './backend-api';
import { callIdSchema, callKeySchema, clientMessageSchema, inviteeSchema, serverMessageSchema } from './consult/signaling-messages';
import { invitedCallsResponseSchema, inviteResponseSchema, startCallRequestSchema, startCallResponseSchema } from './consult/consult-api';

export { CALL_NAMES, ipcChannelFor, type CallName } from './call-names';

/** A FHIR resource as stored: only the two fields every resource has are checked. */
export const fhirResourceSchema = z.looseObject({
  resourceType: z.string(),
  id: z.string(),
});
export type FhirResource = z.infer<typeof fhirResourceSchema>;

export const patientSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  birthDate: z.string().nullable(),
  gender: z.string().nullable(),
  mrn: z.string().nullable(),
});
export type PatientSummary = z.infer<typeof patientSummarySchema>;

export const chartGroupSchema = z.object({
  total: z.number().int().nonnegative(),
  items: z.array(fhirResourceSchema),
});

export type ChartGroup = z.infer<typeof chartGroupSchema>;

export const chartSchema = z.object({
  /** Name, birth date, gender and MRN as the patient list shows them. */
  summary: patientSummarySchema,
  patient: fhirResourceSchema,
  /**
   * Resources of the patient by resourceType, newest first, at most
   * CHART_ITEMS_PER_TYPE each, except the safety lists: allergies and
   * problems whole, and every current (active, on-hold, draft) medication
   * request besides the newest. Billing is counted only. chart.open counts
   * Observation and Encounter without their items (read when asked:
   * chart.results, chart.encounters); the print's chart holds them.
   */
  groups: z.record(z.string(), chartGroupSchema),
  /**
   * chart.open: the newest observation of each code the summary shows
   * (shared/summary-codes.ts), entered-in-error and cancelled ones skipped:
   * the latest vitals and the code status, however old. Empty in the print's
   * chart, which holds the history instead.
   */
  latestObservations: z.array(fhirResourceSchema),
});
export type Chart = z.infer<typeof chartSchema>;

export const auditEntryViewSchema = z.object({
  seq: z.number().int(),
  recordedAt: z.string(),
  actor: z.string(),
  /** The clinician's display name where this computer knows it (else null: show the id). */
  actorName: z.string().nullable().default(null),
  action: z.enum(AUDIT_ACTIONS),
  subtype: z.enum(AUDIT_SUBTYPES),
  outcome: z.enum(AUDIT_OUTCOMES),
  deviceId: z.string(),
  purpose: z.string(),
});
export type AuditEntryView = z.infer<typeof auditEntryViewSchema>;

export const authStatusSchema = z.object({
  state: z.enum(['signed-out', 'locked', 'unlocked']),
  reason: z.string().nullable(),
  enrolled: z.boolean(),
  clinician: z.object({ id: z.string(), displayName: z.string() }).nullable(),
  online: z.boolean(),
  version: z.number().int(),
});
export type AuthStatus = z.infer<typeof authStatusSchema>;

/** A PRF output as the renderer hands it to main: 32 bytes, base64url. */
const prfOutputSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a PRF output');

const clinicianSchema = z.object({ id: z.string(), displayName: z.string() });

/**
 * A long pull run's progress (a first sync): counts only, never PHI. Shown
 * while a run takes more than one page; null otherwise.
 */
export const syncProgressSchema = z.object({
  /** Distinct patients written to so far in this run. */
  patients: z.number().int().nonnegative(),
  /** Resources received so far in this run (written, or already held). */
  resources: z.number().int().nonnegative(),
  /** About how many resources the whole run brings; null when the server gave no estimate (an older server). */
  resourcesTotal: z.number().int().nonnegative().nullable(),
  /** About how many seconds remain at the rate so far; null when not known. */
  secondsLeft: z.number().nonnegative().nullable(),
});
export type SyncProgress = z.infer<typeof syncProgressSchema>;

export const syncStatusSchema = z.object({
  online: z.boolean(),
  /** Changes on this computer not yet accepted by the backend. */
  waiting: z.number().int(),
  /** Changes the backend refused (kept, shown, not resent). */
  refused: z.number().int(),
  /** Changes that met someone else's newer version: both kept for the clinician to choose. */
  conflicts: z.number().int(),
  lastSuccessAt: z.number().nullable(),
  lastError: z.string().nullable(),
  /** The server answered but failed (5xx): it has a problem; the computer is not offline. */
  serverProblem: z.boolean().default(false),
  /** Changes the server keeps failing on, set aside and sent again later (the others go on). */
  failing: z.number().int().default(0),
  /** Why the backend refused changes (its own fixed texts, at most 5, never PHI). */
  refusedReasons: z.array(z.string().max(200)).max(5).default([]),
  /** The cache was found rolled back (a restored older copy, a lost WAL): what the clinician is told (CACHE_ROLLED_BACK); never PHI. */
  rolledBack: z.string().max(300).nullable().default(null),
  /** A long first sync under way: how far it is (null when none runs, or it is short). */
  progress: syncProgressSchema.nullable().default(null),
});
export type SyncStatus = z.infer<typeof syncStatusSchema>;

/** A change that met someone else's newer version: both, side by side, for the clinician to choose. */
export const conflictSchema = z.object({
  key: z.uuid(),
  resourceType: z.string(),
  resourceId: z.string(),
  patientId: z.string().nullable(),
  /** The patient's display name, so the conflict view names whose record it is. */
  patientName: z.string().nullable().default(null),
  detectedAt: z.string(),
  theirVersion: z.string(),
  mine: fhirResourceSchema,
  theirs: fhirResourceSchema,
});
export type Conflict = z.infer<typeof conflictSchema>;

/** The chart's tabs; the workspace remembers the open one across a lock. */
export const CHART_TABS = ['summary', 'results', 'notes', 'write', 'encounters', 'access'] as const;
export type ChartTab = (typeof CHART_TABS)[number];

/**
 * Unfinished work, saved to the encrypted cache as it is typed and never
 * sent: a note (target: the saved draft note's id, or '' for a new one), an
 * addendum (target: the signed note's id), vitals (target ''), a problem edit
 * (target: the condition's id, or '' for a new problem). One per
 * (patient, kind, target); `body` holds the form's fields as typed.
 */
export const DRAFT_KINDS = ['note', 'addendum', 'vitals', 'problem'] as const;
export type DraftKind = (typeof DRAFT_KINDS)[number];
const DRAFT_FIELDS_MAX = 12;
/** Whether `v` has at most `max` own keys, counted without reading any value (stops at max + 1). */
function fewKeys(v: object, max: number): boolean {
  let n = 0;
  for (const k in v) if (Object.hasOwn(v, k) && ++n > max) return false;
  return true;
}
// zod's record skips a "__proto__" key without a word (the body would arrive empty and replace the draft): refused first.
// The field count is checked next, before any key or value is validated: a flood of keys is refused cheaply.
const draftBodySchema = z
  .custom<Record<string, string>>((v) => v !== null && typeof v === 'object' && !Object.hasOwn(v, '__proto__'), 'not a draft body')
  .pipe(z.custom<Record<string, string>>((v) => fewKeys(v as object, DRAFT_FIELDS_MAX), `a draft has at most ${DRAFT_FIELDS_MAX} fields`))
  .pipe(z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,39}$/), z.string().max(20_000)));
const draftTargetSchema = z.union([fhirIdSchema, z.literal('')]);
export const draftSchema = z.object({
  patientId: z.string(),
  kind: z.enum(DRAFT_KINDS),
  target: z.string(),
  body: z.record(z.string(), z.string()),
  /** ISO time of the last keystroke saved. */
  updatedAt: z.string(),
});
export type Draft = z.infer<typeof draftSchema>;

export const THEMES = ['system', 'light', 'dark'] as const;
export const DENSITIES = ['system', 'comfortable', 'compact'] as const;
export const workspaceStateSchema = z.object({
  /** The chart open when the clinician last locked or quit (reopened after unlock). */
  openPatientId: z.string().nullable(),
  tab: z.enum(CHART_TABS).nullable(),
  theme: z.enum(THEMES),
  density: z.enum(DENSITIES),
});
export type WorkspaceState = z.infer<typeof workspaceStateSchema>;

/** One change on this computer that the backend has not accepted yet. */
export const waitingChangeSchema = z.object({
  key: z.string(),
  patientId: z.string().nullable(),
  patientName: z.string().nullable(),
  resourceType: z.string(),
  resourceId: z.string(),
  /** What kind of change, as a clinician says it: 'Vital signs', 'Progress note', 'Addendum', 'Problem', … */
  kind: z.string(),
  createdAt: z.string(),
  state: z.enum(['waiting', 'sending', 'failing', 'held', 'refused', 'conflict']),
  attempts: z.number().int(),
  /** The last error for this change (a fixed text, never PHI), if any. */
  lastError: z.string().max(300).nullable(),
  /** Still on this computer only, not in flight: `changes.undo` may take it back. */
  undoable: z.boolean(),
});
export type WaitingChange = z.infer<typeof waitingChangeSchema>;

export const WORKLIST_MAX = 200;
/** A row of "My patients": the patient, their latest encounter and what needs attention. */
export const worklistRowSchema = patientSummarySchema.extend({
  latestEncounter: z
    .object({ date: z.string().nullable(), classCode: z.string().nullable(), type: z.string().nullable() })
    .nullable(),
  flags: z.object({
    /** Latest vital signs outside the adult range (shared/clinical-ranges.ts). */
    abnormalVitals: z.number().int(),
    criticalVitals: z.number().int(),
    drafts: z.number().int(),
    waiting: z.number().int(),
    conflicts: z.number().int(),
    allergies: z.number().int(),
  }),
});
export type WorklistRow = z.infer<typeof worklistRowSchema>;

/** One setting as the settings screen shows it: its value now, where that value came from, and whether IT manages it. */
export const settingViewSchema = z.object({
  /** The policy name (the same in the README table, the ADMX template, the .mobileconfig and policy.json). */
  name: z.string().max(80),
  label: z.string().max(120),
  value: z.union([z.string().max(1024), z.number(), z.boolean()]).nullable(),
  /** policy: IT's machine policy; organisation: the backend's policy; user: chosen here; default: nobody set it. */
  source: z.enum(['policy', 'organisation', 'user', 'default']),
  /** Set by IT: the clinician cannot change it here. */
  managed: z.boolean(),
  /** IT's value was refused (wrong type, out of range): what was wrong, in words; the safest value is used instead. */
  problem: z.string().max(300).nullable(),
});
export type SettingView = z.infer<typeof settingViewSchema>;

export const UPDATE_STATES = ['off', 'idle', 'checking', 'downloading', 'ready', 'failed'] as const;
/** The updater as the renderer sees it: never a URL, a path or a key. */
export const updateStatusSchema = z.object({
  state: z.enum(UPDATE_STATES),
  currentVersion: z.string().max(64),
  /** The verified version on offer (downloading or ready), else null. */
  availableVersion: z.string().max(64).nullable(),
  /**
   * Why a ready update is not installed now: the app is locked (no one signed in: unlock first); a consultation is running;
   * changes are not yet sent (kept, and sent after the update).
   */
  waitingFor: z.array(z.enum(['locked', 'consultation', 'unsynced-changes'])),
  /** A sentence for the clinician (why updates are off, why the last one was refused), else null. */
  message: z.string().max(300).nullable(),
});
export type UpdateStatus = z.infer<typeof updateStatusSchema>;

// Governed export and print (issue 13).
/** Why a clinician exports or prints: a short coded list plus free text ('other' needs the text). */
export const EXPORT_REASONS = ['continuity-of-care', 'patient-request', 'referral', 'legal-request', 'other'] as const;
export const EXPORT_REASON_TEXT_MAX = 500;
const REASON_TOO_LONG = 'Keep the reason under 500 characters.';
/** Characters that show nothing: Hangul and halfwidth fillers, the blank braille pattern, the combining grapheme joiner, variation selectors. */
const INVISIBLE_FILLERS = /\u115F|\u1160|\u3164|\uFFA0|\u2800|\u034F|[\u180B-\u180F]|[\uFE00-\uFE0F]/gu;
/**
 * A reason's free text (export, print, break the glass): capped as sent
 * (before any trimming: megabytes of spaces are refused, not trimmed),
 * control characters (NUL, newlines, tabs) become spaces, format characters
 * (zero-width, bidi overrides, soft hyphen) and invisible fillers go, runs of
 * spaces become one, then trimmed and capped again.
 */
const reasonTextSchema = z
  .string()
  .max(EXPORT_REASON_TEXT_MAX + 100, REASON_TOO_LONG)
  .transform((t) => t.replace(/\p{Cc}/gu, ' ').replace(/\p{Cf}/gu, '').replace(INVISIBLE_FILLERS, '').replace(/\s+/gu, ' ').trim())
  .pipe(z.string().max(EXPORT_REASON_TEXT_MAX, REASON_TOO_LONG));
/** 'other' says why in words: at least one letter or digit. */
const saysWhy = (r: { code: string; text: string }) => r.code !== 'other' || /[\p{L}\p{N}]/u.test(r.text);
export const exportReasonSchema = z
  .strictObject({ code: z.enum(EXPORT_REASONS, 'Choose a reason.'), text: reasonTextSchema })
  .refine(saysWhy, { message: 'Say why, in a few words.', path: ['text'] });
export type ExportReason = z.infer<typeof exportReasonSchema>;
/** What may leave the cache, by policy: a FHIR Bundle file, a PDF, paper. */
export const EXPORT_FORMATS = ['fhir-json', 'pdf', 'printer'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** The watermark on every printed or PDF page. */
export const watermarkSchema = z.object({ clinician: z.string().max(200), at: z.string().max(40), label: z.string().max(40) });

// Break the glass (issue 13).
export const GLASS_REASONS = ['emergency-treatment', 'patient-transferred', 'covering-colleague', 'other'] as const;
export const glassReasonSchema = z
  .strictObject({ code: z.enum(GLASS_REASONS, 'Choose a reason.'), text: reasonTextSchema })
  .refine(saysWhy, { message: 'Say why, in a few words.', path: ['text'] });
/** A restricted match of an online search: that it exists, nothing more. The handle is opaque, short-lived and bound to this session. */
export const restrictedMatchSchema = z.object({ handle: z.string().min(1).max(200), label: z.string().max(100) });
export const glassGrantSchema = z.object({ patientId: fhirIdSchema, expiresAt: z.string().max(40) });

export const SEARCH_QUERY_MAX = 100;
export const SEARCH_RESULTS_MAX = 50;

export const contract = {
  'app.status': {
    input: z.strictObject({}),
    output: z.object({
      cache: z.enum(['open', 'unavailable']),
      problem: z.object({ code: z.string(), message: z.string() }).nullable(),
      deviceId: z.string().nullable(),
      actor: z.string().nullable(),
    }),
  },
  'patients.search': {
    input: z.strictObject({ query: z.string().trim().min(1).max(SEARCH_QUERY_MAX) }),
    output: z.object({ patients: z.array(patientSummarySchema), truncated: z.boolean() }),
  },
  'chart.open': {
    input: z.strictObject({ patientId: fhirIdSchema }),
    output: chartSchema,
  },
  /** The Results tab: the patient's newest observations (at most CHART_ITEMS_PER_TYPE) and how many there are; audited as a read. */
  'chart.results': {
    input: z.strictObject({ patientId: fhirIdSchema }),
    output: chartGroupSchema,
  },
  /** The Encounters tab and the consultation dialog: the patient's newest encounters (at most CHART_ITEMS_PER_TYPE) and how many there are; audited as a read. */
  'chart.encounters': {
    input: z.strictObject({ patientId: fhirIdSchema }),
    output: chartGroupSchema,
  },
  'audit.forPatient': {
    input: z.strictObject({
      patientId: fhirIdSchema,
      limit: z.number().int().min(1).max(500),
    }),
    output: z.object({ entries: z.array(auditEntryViewSchema) }),
  },
  'auth.status': { input: z.strictObject({}), output: authStatusSchema },
  'auth.watch': { input: z.strictObject({ version: z.number().int().nonnegative() }), output: authStatusSchema },
  'auth.enrollBegin': {
    input: z.strictObject({ clinicianId: clinicianIdSchema, code: enrollmentCodeSchema }),
    output: z.object({ options: creationOptionsSchema }),
  },
  'auth.enrollFinish': {
    input: z.strictObject({ response: registrationResponseSchema, prfOutput: prfOutputSchema.optional() }),
    output: z.object({ clinician: clinicianSchema, prfBound: z.boolean() }),
  },
  'auth.signInBegin': { input: z.strictObject({}), output: z.object({ options: requestOptionsSchema, offline: z.boolean() }) },
  'auth.signInFinish': {
    input: z.strictObject({ response: authenticationResponseSchema, prfOutput: prfOutputSchema.optional() }),
    output: z.object({ clinician: clinicianSchema, offline: z.boolean() }),
  },
  'auth.lock': { input: z.strictObject({}), output: z.object({ locked: z.boolean() }) },
  'auth.activity': { input: z.strictObject({}), output: z.object({}) },
  'devices.list': { input: z.strictObject({}), output: z.object({ devices: z.array(deviceSchema), thisDevice: z.string() }) },
  'devices.revoke': { input: z.strictObject({ deviceId: z.uuid() }), output: z.object({ revoked: z.boolean() }) },
  'chart.recordVitals': { input: vitalsInputSchema, output: z.object({ ids: z.array(z.string()) }) },
  'notes.saveDraft': { input: noteDraftSchema, output: z.object({ noteId: z.string() }) },
  'notes.sign': { input: z.strictObject({ noteId: fhirIdSchema }), output: z.object({ noteId: z.string() }) },
  'notes.addendum': {
    input: z.strictObject({ noteId: fhirIdSchema, text: z.string().trim().min(1).max(20_000) }),
    output: z.object({ addendumId: z.string() }),
  },
  'problems.set': { input: problemInputSchema, output: z.object({ conditionId: z.string() }) },
  'sync.status': { input: z.strictObject({}), output: syncStatusSchema },
  'sync.conflicts': { input: z.strictObject({}), output: z.object({ conflicts: z.array(conflictSchema) }) },
  'sync.resolveConflict': {
    input: z.strictObject({ key: z.uuid(), choice: z.enum(['mine', 'theirs']) }),
    output: z.object({ resourceType: z.string(), resourceId: z.string() }),
  },
  /** The OS says the network came or went (the renderer's online/offline events): wake the sync worker. */
  'sync.networkChanged': { input: z.strictObject({ online: z.boolean() }), output: z.object({}) },
  'sync.waiting': { input: z.strictObject({}), output: z.object({ changes: z.array(waitingChangeSchema), truncated: z.boolean() }) },
  /** Takes back the latest unsent change of a resource (restores what was there before). ALREADY_SENT once it left. */
  'changes.undo': {
    input: z.strictObject({ resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/), resourceId: fhirIdSchema }),
    output: z.object({ undone: z.boolean() }),
  },
  'drafts.put': {
    input: z.strictObject({ patientId: fhirIdSchema, kind: z.enum(DRAFT_KINDS), target: draftTargetSchema, body: draftBodySchema }),
    output: z.object({ updatedAt: z.string() }),
  },
  'drafts.list': { input: z.strictObject({ patientId: fhirIdSchema }), output: z.object({ drafts: z.array(draftSchema) }) },
  'drafts.discard': {
    input: z.strictObject({ patientId: fhirIdSchema, kind: z.enum(DRAFT_KINDS), target: draftTargetSchema }),
    output: z.object({ discarded: z.boolean() }),
  },
  'workspace.get': { input: z.strictObject({}), output: workspaceStateSchema },
  'workspace.set': {
    input: z.strictObject({
      openPatientId: fhirIdSchema.nullable().optional(),
      tab: z.enum(CHART_TABS).nullable().optional(),
      theme: z.enum(THEMES).optional(),
      density: z.enum(DENSITIES).optional(),
    }),
    output: workspaceStateSchema,
  },
  'patients.worklist': { input: z.strictObject({}), output: z.object({ patients: z.array(worklistRowSchema), truncated: z.boolean() }) },
  // Consultations (issue 11). Main holds the signaling socket (with the session token) and signs the call key with the device key; the
  // renderer's media worker holds every media key. The renderer never sees the backend's token or a media key through these calls.
  'consult.start': { input: startCallRequestSchema, output: startCallResponseSchema },
  'consult.invite': { input: z.strictObject({ callId: callIdSchema, invitee: inviteeSchema }), output: inviteResponseSchema },
  'consult.invited': { input: z.strictObject({}), output: invitedCallsResponseSchema },
  /** Open the signaling socket for this call and join with the worker's call public key (main adds the device signature). */
  'consult.connect': { input: z.strictObject({ callId: callIdSchema, publicKey: callKeySchema.shape.publicKey }), output: z.object({}) },
  /** Send one message on the call's socket; `hello` and `join` are main's own and refused here. */
  'consult.send': { input: z.strictObject({ callId: callIdSchema, message: clientMessageSchema }), output: z.object({}) },
  /** Messages received after `after` (a local counter, not the room's seq), waiting up to about 20 s for the first; `closed` once the socket is gone. */
  'consult.receive': {
    input: z.strictObject({ callId: callIdSchema, after: z.number().int().nonnegative() }),
    output: z.object({ messages: z.array(z.object({ n: z.number().int(), message: serverMessageSchema })), closed: z.boolean() }),
  },
  /** Leave the call (or end it, as host), close the socket and withdraw the camera and microphone permission. */
  'consult.leave': { input: z.strictObject({ callId: callIdSchema, end: z.boolean() }), output: z.object({}) },
  // Settings and updates (issue 12). Available before sign-in: they hold no PHI.
  /** Every setting with its effective value and where it came from (IT policy beats the user's choice). */
  'settings.list': {
    input: z.strictObject({}),
    output: z.object({
      settings: z.array(settingViewSchema),
      policySource: z.string().max(300),
      /** What is wrong with IT's policy source as a whole (why a file was refused, unknown settings it names), in words, never a value. */
      policyProblems: z.array(z.string().max(300)).max(20),
    }),
  },
  'update.status': { input: z.strictObject({}), output: updateStatusSchema },
  /**
   * Restart into the verified, downloaded update. UPDATE_DEFERRED during a consultation, and while changes wait
   * unless `acceptUnsynced` (the clinician was told they are kept and sent after the restart).
   */
  'update.install': { input: z.strictObject({ acceptUnsynced: z.boolean() }), output: z.object({ installing: z.boolean() }) },
  // Governed export and print (issue 13). Every one needs the unlocked cache; each export or print asks for a reason and is audited.
  /** What policy allows now (formats, print), and the reasons to choose from. */
  'export.options': {
    input: z.strictObject({}),
    output: z.object({ formats: z.array(z.enum(EXPORT_FORMATS)), reasons: z.array(z.object({ code: z.enum(EXPORT_REASONS), label: z.string() })) }),
  },
  /**
   * The patient's summary as a FHIR R4 Bundle (IPS shape where it fits), saved where the clinician chooses in the OS
   * save dialog (main opens it; the renderer never names a path). `saved` false: the clinician cancelled, nothing read.
   */
  'export.fhir': { input: z.strictObject({ patientId: fhirIdSchema, reason: exportReasonSchema }), output: z.object({ saved: z.boolean(), resources: z.number().int() }) },
  /**
   * Reads the chart for the print view and audits the print (same transaction). The renderer shows the print view
   * with the watermark, then calls print.output with the id.
   */
  'print.prepare': {
    input: z.strictObject({ patientId: fhirIdSchema, reason: exportReasonSchema, output: z.enum(['pdf', 'printer']) }),
    output: z.object({ printId: z.uuid(), chart: chartSchema, watermark: watermarkSchema }),
  },
  /** Prints the caller's window (print view mounted) or saves it as PDF through the OS save dialog; `done` false: cancelled. */
  'print.output': { input: z.strictObject({ printId: z.uuid() }), output: z.object({ done: z.boolean() }) },
  // Break the glass (issue 13): online only.
  /** The backend's restricted matches for a search (patients this clinician is not assigned to): that they exist, nothing more. */
  'glass.search': {
    input: z.strictObject({ query: z.string().trim().min(1).max(SEARCH_QUERY_MAX) }),
    output: z.object({ matches: z.array(restrictedMatchSchema).max(SEARCH_RESULTS_MAX) }),
  },
  /** Break the glass on a restricted match: time-boxed access granted by the backend; the record is pulled into the cache. */
  'glass.break': { input: z.strictObject({ handle: z.string().min(1).max(200), reason: glassReasonSchema }), output: glassGrantSchema },
  /** The break-the-glass grants active now on this device. */
  'glass.active': { input: z.strictObject({}), output: z.object({ grants: z.array(glassGrantSchema) }) },
} as const satisfies Record<CallName, { input: z.ZodType; output: z.ZodType }>;

export type Contract = typeof contract;
export type CallInput<N extends CallName> = z.input<Contract[N]['input']>;
export type ParsedInput<N extends CallName> = z.output<Contract[N]['input']>;
export type CallOutput<N extends CallName> = z.output<Contract[N]['output']>;

type Namespace = CallName extends `${infer NS}.${string}` ? NS : never;

/** The shape of `window.clinician`: `clinician.chart.open({ patientId })`. */
export type ClinicianApi = {
  readonly [NS in Namespace]: {
    readonly [N in CallName as N extends `${NS}.${infer M}` ? M : never]: (
      input: CallInput<N>,
    ) => Promise<Result<CallOutput<N>>>;
  };
};
