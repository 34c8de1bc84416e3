/**
 * The handler registry: for every call of the shared contract, the function
 * that serves it, and `dispatch`, the one door into it. dispatch checks the
 * caller, parses the input with the contract's schema, runs the handler,
 * checks the output, and turns every failure into a typed error value: no
 * exception crosses the boundary, no input reaches a handler unparsed, and no
 * error text carries PHI (unknown errors are reduced to their code).
 * The Electron glue binds this to ipcMain; the browser tests bind it to
 * Playwright; both go through `dispatch`.
 */
import { AppError, toErrorShape, type Result } from '../../shared/app-error';
import { contract, type CallName, type CallOutput, type ParsedInput } from '../../shared/contract';
import { fieldErrorsOf, invalidInputMessage } from '../../shared/field-errors';
import { isTrustedCaller, type Caller } from './caller-policy';
import type { CacheSession } from './cache-session';
import type { SignInSurface } from './session/sign-in-surface';
import { chartEncounters, chartResults, openChart, patientAccessTrail, searchPatients } from './patient-records';
import { addAddendum, recordVitals, saveNoteDraft, setProblem, signNote } from './charting';
import { refusedReasons, syncCounts } from './outbox';
import { listConflicts, resolveConflict } from './conflicts';
import { rollbackNotice } from './rollback-guard';
import { discardDraft, listDrafts, putDraft } from './drafts';
import { getWorkspace, setWorkspace } from './workspace-state';
import { withForcedWorkspace, withoutForcedChanges } from './policy/forced-workspace';
import { patientWorklist } from './worklist';
import { undoChange } from './change-undo';
import { listWaitingChanges } from './waiting-changes';
import { consultHandlers } from './consult/consult-handlers';
import type { AppSurfaces } from './app-surfaces';

export type Handler<N extends CallName> = (input: ParsedInput<N>, caller: Caller) => Promise<CallOutput<N>> | CallOutput<N>;
export type HandlerRegistry = { readonly [N in CallName]: Handler<N> };

/** What the handlers need from the app: the open cache, if any, and why not. */
export interface RegistryDeps {
  session(): CacheSession | null;
  problem(): AppError | null;
  actor(): string | null;
}

function requireAuth(auth: SignInSurface | undefined): SignInSurface {
  if (!auth) throw new AppError('NOT_ENROLLED', 'Sign-in is not set up on this computer.');
  return auth;
}

function requireExports(surfaces: AppSurfaces): NonNullable<AppSurfaces['exports']> {
  if (!surfaces.exports) throw new AppError('EXPORT_DISABLED', 'Export and print are not available on this computer.');
  return surfaces.exports;
}

function requireGlass(surfaces: AppSurfaces): NonNullable<AppSurfaces['glass']> {
  if (!surfaces.glass) throw new AppError('GLASS_OFFLINE', 'Emergency access needs the hospital server, which is not set up on this computer.');
  return surfaces.glass;
}

function requireSession(deps: RegistryDeps): CacheSession {
  const session = deps.session();
  if (session) return session;
  throw deps.problem() ?? new AppError('CACHE_NOT_OPEN', 'The patient cache is not open.');
}

/**
 * `auth` is absent only where sign-in is not wired (the cache-only tests);
 * the app always passes it, and it is then also the RegistryDeps. `surfaces`
 * (settings, updates) are absent where a test does not wire them: their
 * calls then answer UPDATE_UNAVAILABLE / an empty list.
 */
export function createHandlerRegistry(deps: RegistryDeps, auth?: SignInSurface, surfaces: AppSurfaces = {}): HandlerRegistry {
  const phi = <T>(fn: (s: CacheSession) => T): T => {
    const session = requireSession(deps);
    auth?.activity();
    return fn(session);
  };
  // A local change: written with its outbox entry (and the removal of the draft it completes, in the same store call), then the sync worker is woken.
  const change = async <T>(fn: (s: CacheSession, now: Date) => Promise<T>): Promise<T> => {
    const result = await phi((s) => fn(s, new Date()));
    auth?.nudgeSync();
    return result;
  };
  // workspace.set writes reach the store in the order they came: each first asks the settings which fields IT forces (an await).
  let workspaceWrites: Promise<unknown> = Promise.resolve();
  return {
    'app.status': () => {
      const session = deps.session();
      const problem = deps.problem();
      return {
        cache: session ? 'open' : 'unavailable',
        problem: problem ? problem.toShape() : null,
        deviceId: session?.context.deviceId ?? null,
        actor: deps.actor(),
      };
    },
    'patients.search': ({ query }) => phi((s) => searchPatients(s, query)),
    'chart.open': ({ patientId }) => phi((s) => openChart(s, patientId)),
    'chart.results': ({ patientId }) => phi((s) => chartResults(s, patientId)),
    'chart.encounters': ({ patientId }) => phi((s) => chartEncounters(s, patientId)),
    'audit.forPatient': ({ patientId, limit }) => phi(async (s) => ({ entries: await patientAccessTrail(s, patientId, limit) })),
    'auth.status': () => requireAuth(auth).status(),
    'auth.watch': async ({ version }) => {
      const a = requireAuth(auth);
      await a.watch(version);
      return a.status();
    },
    'auth.enrollBegin': ({ clinicianId, code }) => requireAuth(auth).enrollBegin(clinicianId, code),
    'auth.enrollFinish': ({ response, prfOutput }) => requireAuth(auth).enrollFinish(response, prfOutput),
    'auth.signInBegin': () => requireAuth(auth).signInBegin(),
    'auth.signInFinish': ({ response, prfOutput }) => requireAuth(auth).signInFinish(response, prfOutput),
    'auth.lock': () => {
      requireAuth(auth).lockNow('manual');
      return { locked: true };
    },
    'auth.activity': () => {
      requireAuth(auth).activity();
      return {};
    },
    'devices.list': () => requireAuth(auth).devices(),
    'devices.revoke': ({ deviceId }) => requireAuth(auth).revokeDevice(deviceId),
    // A save and the removal of its draft commit together: a lock or crash between them would bring the recorded work back.
    'chart.recordVitals': (input) => change((s, now) => recordVitals(s, input, now, { clearDraft: { patientId: input.patientId, kind: 'vitals', target: '' } })),
    'notes.saveDraft': (input) => change((s, now) => saveNoteDraft(s, input, now)),
    'notes.sign': ({ noteId }) => change((s, now) => signNote(s, noteId, now, { clearDraftsOfTarget: { kind: 'note', target: noteId } })),
    'notes.addendum': ({ noteId, text }) => change((s, now) => addAddendum(s, noteId, text, now, { clearDraftsOfTarget: { kind: 'addendum', target: noteId } })),
    'problems.set': (input) =>
      change((s, now) => setProblem(s, input, now, { clearDraft: { patientId: input.patientId, kind: 'problem', target: input.conditionId ?? '' } })),
    'sync.status': async () => {
      const session = requireSession(deps);
      const worker = auth?.syncState();
      return {
        ...(await syncCounts(session)),
        online: worker?.online ?? false,
        lastSuccessAt: worker?.lastSuccessAt ?? null,
        lastError: worker?.lastError ?? null,
        serverProblem: worker?.serverProblem ?? false,
        failing: worker?.failing ?? 0,
        refusedReasons: await refusedReasons(session),
        rolledBack: (await rollbackNotice(session))?.message ?? null,
        progress: worker?.progress ?? null,
      };
    },
    'sync.conflicts': () => phi(async (s) => ({ conflicts: await listConflicts(s) })),
    'sync.resolveConflict': ({ key, choice }) => change((s) => resolveConflict(s, key, choice)),
    'sync.networkChanged': ({ online }) => {
      auth?.networkChanged(online);
      return {};
    },
    'sync.waiting': () => phi((s) => listWaitingChanges(s, auth?.syncState() ?? null)),
    // Any clinician signed in here may undo what waits in this cache's outbox: it is their own cache.
    'changes.undo': (target) => phi((s) => undoChange(s, target, auth?.syncState().sending ?? [])),
    // Drafts stay in this cache (never queued): no sync nudge.
    'drafts.put': (input) => phi((s) => putDraft(s, input, new Date())),
    'drafts.list': ({ patientId }) => phi(async (s) => ({ drafts: await listDrafts(s, patientId) })),
    'drafts.discard': (input) => phi((s) => discardDraft(s, input)),
    'workspace.get': () => phi(async (s) => withForcedWorkspace(await getWorkspace(s), surfaces.settings)),
    'workspace.set': (changes) =>
      phi((s) => {
        const write = workspaceWrites.then(async () => withForcedWorkspace(await setWorkspace(s, await withoutForcedChanges(changes, surfaces.settings)), surfaces.settings));
        workspaceWrites = write.catch(() => undefined);
        return write;
      }),
    'patients.worklist': () => phi((s) => patientWorklist(s)),
    ...consultHandlers(auth),
    'settings.list': () => surfaces.settings?.list() ?? { settings: [], policySource: 'none', policyProblems: [] },
    'update.status': () => {
      if (!surfaces.updates) throw new AppError('UPDATE_UNAVAILABLE', 'Updates are not set up on this computer.');
      return surfaces.updates.status();
    },
    'update.install': ({ acceptUnsynced }) => {
      if (!surfaces.updates) throw new AppError('UPDATE_UNAVAILABLE', 'Updates are not set up on this computer.');
      return surfaces.updates.install(acceptUnsynced);
    },
    'export.options': () => phi(() => requireExports(surfaces).options()),
    'export.fhir': (input, caller) => phi(() => requireExports(surfaces).exportFhir(input, caller)),
    'print.prepare': (input, caller) => phi(() => requireExports(surfaces).preparePrint(input, caller)),
    'print.output': (input, caller) => phi(() => requireExports(surfaces).output(input, caller)),
    'glass.search': ({ query }) => phi(() => requireGlass(surfaces).search(query)),
    'glass.break': (input) => phi(() => requireGlass(surfaces).breakGlass(input)),
    'glass.active': () => phi(() => requireGlass(surfaces).active()),
  };
}

export interface DispatchOptions {
  trustedOrigins: readonly string[];
  /** Called with the call name and error code of failures that are our bug, never with content. */
  onInternalError?: (name: string, err: unknown) => void;
}

export async function dispatch(
  registry: HandlerRegistry,
  name: unknown,
  payload: unknown,
  caller: Caller,
  options: DispatchOptions,
): Promise<Result<unknown>> {
  if (!isTrustedCaller(caller, options.trustedOrigins)) {
    return { ok: false, error: { code: 'FORBIDDEN_SENDER', message: 'This window is not allowed to use the patient cache.' } };
  }
  if (typeof name !== 'string' || !Object.hasOwn(contract, name)) {
    return { ok: false, error: { code: 'UNKNOWN_CALL', message: 'The app asked for an action that does not exist.' } };
  }
  const call = name as CallName;
  const parsed = contract[call].input.safeParse(payload);
  if (!parsed.success) {
    // Each invalid field with the schema's message (never the value); the headline is the first message written for clinicians.
    const fields = fieldErrorsOf(parsed.error, contract[call].input);
    return { ok: false, error: { code: 'INVALID_INPUT', message: invalidInputMessage(fields), fields } };
  }
  try {
    const handler = registry[call] as Handler<CallName>;
    const value = await handler(parsed.data as ParsedInput<CallName>, caller);
    const checked = contract[call].output.safeParse(value);
    if (!checked.success) throw new Error('handler output does not match the contract');
    return { ok: true, value: checked.data };
  } catch (err) {
    if (!(err instanceof AppError)) options.onInternalError?.(call, err);
    return { ok: false, error: toErrorShape(err) };
  }
}
