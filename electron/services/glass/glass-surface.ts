/**
 * Break the glass on the desktop (issue 13): the GlassSurface the handler
 * registry serves glass.search / glass.break / glass.active with. Online
 * only: the backend decides every grant, and its restricted matches say
 * that a patient exists and nothing more. A grant brings the patient's
 * records into the cache (written as pulled records, audited), is stored
 * with its expiry and reason code, and is itself a 'break-glass' audit
 * entry; while it is active every entry naming that patient carries
 * EMERGENCY_PURPOSE (the store's audit chain). When it
 * is over (its length, measured from the backend's own time in its answer,
 * has passed on this computer's wall clock or on a monotonic clock the time
 * setting cannot move, or the backend says it ended) the patient leaves the
 * cache; waiting work keeps only itself. Expiry is checked on a timer, before every
 * access (`guardedByGlass`) and so at the first access after an unlock.
 * Every row is the store's (../store/operations/glass-grant-rows.ts): the
 * grant with its entry, the check with its removals, each slice of records
 * with the records cursor are one call each; a check is sent before the
 * access it guards, so the store (which answers in order) runs it first.
 * Never hand the renderer a handle's meaning, a token or the backend's
 * words about why it refused; never keep a patient past its grant for
 * anything but waiting work.
 */
import { AppError } from '../../../shared/app-error';
import type { CallOutput, ParsedInput } from '../../../shared/contract';
import { GLASS_QUERY_MIN, glassFacts, type GlassRecordsReply } from '../../../shared/glass-api';
import { patientIdOf } from '../../../shared/fhir-fields';
import type { FhirResource } from '../../../shared/contract';
import type { GlassSurface } from '../app-surfaces';
import type { BackendClient } from '../backend-client';
import type { CacheSession } from '../cache-session';
import type { RegistryDeps } from '../handler-registry';
import { isoInstant, type StoredGrant } from './glass-grants';
import { PULL_SLICE } from '../store/store-api';

export const GLASS_OFFLINE_MESSAGE = 'Emergency access needs the hospital network. You are offline.';
export const GLASS_SIGN_IN_MESSAGE = 'Emergency access needs an online sign-in with your passkey. Lock the app and sign in again while online.';
export const GLASS_NOT_GRANTED_MESSAGE = 'Emergency access was not granted. Nothing was opened.';
export const GLASS_BUSY_MESSAGE = 'The hospital server is busy. Try emergency access again in a minute.';

/** How often grants are checked without any access (expiry, and the backend's word on them while online). */
export const GLASS_CHECK_MS = 15_000;
/** The backend is asked which grants still stand at most this often. */
const RECONCILE_MS = 60_000;
const MAX_RECORD_PAGES = 200;

/** What the surface needs from the backend client (BackendClient has these). */
export type GlassBackend = Pick<BackendClient, 'glassSearch' | 'glassGrant' | 'glassGrants' | 'glassRecords'> & Partial<Pick<BackendClient, 'serverTime'>>;

/** No grant lasts longer on this computer than the longest the backend's policy allows (breakGlassMinutes). */
export const GLASS_MAX_GRANT_MS = 1440 * 60_000;

export interface GlassDeps {
  /** The open cache, null while locked. */
  session(): CacheSession | null;
  /** The token of a session the backend verified with a passkey; null when locked, offline or sync-only. */
  passkeyToken(): string | null;
  /** Whether the sync worker last reached the backend (and the OS says the network is there). */
  online(): boolean;
  /** Null when no backend is configured. */
  backend: GlassBackend | null;
  /** The backend said the clinician or device is revoked: the app wipes (as it does for the devices panel). */
  revoked?(message: string): void;
  clock?: () => Date;
  /** A clock the computer's time setting cannot move (ms; performance.now by default). */
  monotonic?: () => number;
  /** Timer period; 0 for none (tests call check()). */
  checkEveryMs?: number;
}

export interface GlassService extends GlassSurface {
  /**
   * Ends grants whose time has passed and removes their patients where no work waits; one store call, sent before
   * this returns (so before any call the caller sends next). Called before every access.
   */
  check(session?: CacheSession | null): Promise<void>;
  /** Asks the backend which grants still stand (ending the others), and fetches what changed in granted records. Never throws. */
  refresh(): Promise<void>;
  /** Stops the timer. */
  stop(): void;
}

function offline(): AppError {
  return new AppError('GLASS_OFFLINE', GLASS_OFFLINE_MESSAGE);
}

/**
 * Turns a backend client failure into what the clinician is told: unreachable
 * is offline; a revoked clinician or device, a refused handle or grant and a
 * refused session are all "not granted" in neutral words; a server problem
 * stays what it is.
 */
function asGlassError(err: unknown, deps: GlassDeps): unknown {
  if (!(err instanceof AppError)) return err;
  switch (err.code) {
    case 'BACKEND_UNREACHABLE':
      return /busy/.test(err.message) ? new AppError('GLASS_REFUSED', GLASS_BUSY_MESSAGE) : offline();
    case 'DEVICE_REVOKED':
      deps.revoked?.(err.message);
      return new AppError('GLASS_REFUSED', GLASS_NOT_GRANTED_MESSAGE);
    case 'GLASS_REFUSED':
      return err;
    case 'SIGN_IN_REFUSED':
    case 'PRF_REQUIRED':
      return new AppError('GLASS_REFUSED', GLASS_NOT_GRANTED_MESSAGE);
    default:
      return err;
  }
}

/** The pulled resources that belong to the granted patient (a resource linked to another patient is never written). */
function ownResources(patientId: string, page: GlassRecordsReply): GlassRecordsReply['resources'] {
  return page.resources.filter((r) => {
    const link = patientIdOf(r.resourceType, r.id, r as FhirResource, new Map());
    return link === patientId || link === null;
  });
}

export function createGlassSurface(deps: GlassDeps): GlassService {
  const clock = deps.clock ?? (() => new Date());
  const monotonic = deps.monotonic ?? (() => performance.now());
  /**
   * Per open cache: for each active grant, when it started on the monotonic
   * clock (at the grant, or at the first check after an unlock) and how long
   * it may still run from then. The wall clock can be set back; this cannot.
   */
  const running = new WeakMap<CacheSession, Map<string, { since: number; lengthMs: number }>>();
  const runningFor = (session: CacheSession) => {
    let m = running.get(session);
    if (!m) running.set(session, (m = new Map()));
    return m;
  };
  /** Grants known active whose time on the monotonic clock is over at `at` (whatever the wall clock says). */
  const overOnMonotonic = (session: CacheSession, at: number): string[] => {
    const over: string[] = [];
    for (const [patientId, r] of runningFor(session)) if (at - r.since >= r.lengthMs) over.push(patientId);
    return over;
  };
  /**
   * After a check: grants no longer active are forgotten; one first seen in this session (after an unlock) runs from
   * `at` for what is left, never more than the grant's own length. (A grant first seen with nothing left has expired by
   * the wall clock too, so the check that saw it has ended it already.)
   */
  const track = (session: CacheSession, active: StoredGrant[], now: Date, at: number): void => {
    const m = runningFor(session);
    const ids = new Set(active.map((g) => g.patientId));
    for (const key of [...m.keys()]) if (!ids.has(key)) m.delete(key);
    for (const g of active) {
      if (m.has(g.patientId)) continue;
      const left = Math.min(Date.parse(g.expiresAt) - now.getTime(), Date.parse(g.expiresAt) - Date.parse(g.grantedAt), GLASS_MAX_GRANT_MS);
      m.set(g.patientId, { since: at, lengthMs: left });
    }
  };
  let lastRefresh = -Infinity;
  let refreshing: Promise<void> | null = null;

  const ready = (): { backend: GlassBackend; token: string } => {
    if (!deps.backend || !deps.online()) throw offline();
    const token = deps.passkeyToken();
    if (!token) throw new AppError('GLASS_OFFLINE', GLASS_SIGN_IN_MESSAGE);
    return { backend: deps.backend, token };
  };

  const openSession = (): CacheSession => {
    const s = deps.session();
    if (!s) throw new AppError('LOCKED', 'The app is locked. Sign in with your passkey to continue.');
    return s;
  };

  /**
   * One store call: grants over by the wall clock or in `also` and the ones over on the monotonic clock end, ended
   * grants' patients leave; answers the grants still active. The call is sent before this returns (nothing awaited
   * before it), so whatever the caller sends next is answered after it.
   */
  const checkNow = (session: CacheSession, also: string[] = []): Promise<StoredGrant[]> => {
    const now = clock();
    const at = monotonic();
    const over = [...new Set([...overOnMonotonic(session, at), ...also])];
    return session.store.call('checkGrants', { now: now.toISOString(), over }).then(({ active }) => {
      track(session, active, now, at);
      return active;
    });
  };

  const check = async (session: CacheSession | null = deps.session()): Promise<void> => {
    if (!session) return;
    await checkNow(session);
  };

  /** Fetches the granted patient's records (from the stored cursor) into the cache; the backend's 403 ends the grant. */
  const fetchRecords = async (session: CacheSession, backend: GlassBackend, token: string, patientId: string): Promise<void> => {
    for (let i = 0; i < MAX_RECORD_PAGES; i++) {
      const cursor = await session.store.call('recordsCursor', { patientId });
      let page: GlassRecordsReply;
      try {
        page = await backend.glassRecords(token, patientId, cursor);
      } catch (err) {
        if (err instanceof AppError && err.code === 'GLASS_REFUSED') {
          // The grant is over on the backend (expired or revoked): the patient leaves, unless work waits.
          await checkNow(session, [patientId]);
        }
        throw err;
      }
      // Slices of PULL_SLICE, one call each (a chart.open waits for one slice at most); the records cursor moves with
      // the last. A lock between slices leaves the cursor: the page is fetched again, what committed is skipped.
      const resources = ownResources(patientId, page);
      for (let from = 0; from === 0 || from < resources.length; from += PULL_SLICE) {
        await session.store.call('applyGlassRecords', { patientId, resources: resources.slice(from, from + PULL_SLICE), cursor: page.cursor, last: from + PULL_SLICE >= resources.length, now: clock().toISOString() });
      }
      if (!page.more || !page.cursor || page.cursor === cursor) return;
    }
  };

  const refresh = async (): Promise<void> => {
    const session = deps.session();
    const token = deps.passkeyToken();
    if (!session || !token || !deps.backend || !deps.online()) return;
    const backend = deps.backend;
    try {
      const stillActive = new Set((await backend.glassGrants(token)).grants.map((g) => g.patientId));
      if (deps.session() !== session) return;
      const local = await session.store.call('activeGrants', { now: clock().toISOString() });
      const gone = local.filter((g) => !stillActive.has(g.patientId));
      if (gone.length > 0) await checkNow(session, gone.map((g) => g.patientId));
      for (const g of local.filter((l) => stillActive.has(l.patientId))) await fetchRecords(session, backend, token, g.patientId);
      await check(session);
    } catch {
      // Offline, locked meanwhile, a server problem: the next tick tries again; expiry still runs on this computer's clock.
    }
  };

  const timer =
    (deps.checkEveryMs ?? GLASS_CHECK_MS) > 0
      ? setInterval(() => {
          check().catch(() => {
            // locked meanwhile, a full disk: the next tick or access tries again
          });
          if (Date.now() - lastRefresh >= RECONCILE_MS && !refreshing) {
            lastRefresh = Date.now();
            refreshing = refresh().finally(() => (refreshing = null));
          }
        }, deps.checkEveryMs ?? GLASS_CHECK_MS)
      : null;
  timer?.unref();

  return {
    async search(query: string): Promise<CallOutput<'glass.search'>> {
      const session = openSession();
      const { backend, token } = ready();
      // The backend takes 3..100 characters: a shorter query finds nothing, without asking.
      if (query.trim().length < GLASS_QUERY_MIN) return { matches: [] };
      let matches: CallOutput<'glass.search'>['matches'];
      try {
        matches = (await backend.glassSearch(token, query)).matches;
      } catch (err) {
        throw asGlassError(err, deps);
      }
      // The search text left this computer: audited like a search, naming no patient (matches are handles only).
      await session.store.call('appendAudit', { records: [{ action: 'E', subtype: 'search-type', patientId: null, entities: [], query, outcome: '0' }] });
      return { matches };
    },

    async breakGlass(input: ParsedInput<'glass.break'>): Promise<CallOutput<'glass.break'>> {
      const session = openSession();
      const { backend, token } = ready();
      const refused = () =>
        session.store.call('appendAudit', {
          records: [{ action: 'E', subtype: 'break-glass', patientId: null, entities: glassFacts({ reason: input.reason.code, expiresAt: '' }).slice(0, 1), query: input.reason.text || null, outcome: '4' }],
        });
      let grant: CallOutput<'glass.break'>;
      try {
        grant = await backend.glassGrant(token, { handle: input.handle, reason: input.reason });
      } catch (err) {
        const mapped = asGlassError(err, deps);
        if (mapped instanceof AppError && mapped.code === 'GLASS_REFUSED' && deps.session() === session) await refused();
        throw mapped;
      }
      const now = clock();
      const startedAt = monotonic();
      let expiresAt: string;
      try {
        expiresAt = isoInstant(grant.expiresAt);
      } catch {
        throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an answer the app cannot read.');
      }
      // The grant's length on the backend's own clock (its answer's Date), never on this computer's clock, which
      // may have been set back; without the backend's time, what is left by this clock. Never more than policy allows.
      // The Date header is whole seconds: its next second is the latest the backend's time can have been.
      const answeredAt = backend.serverTime?.() ?? null;
      const lengthMs = Math.min(Date.parse(expiresAt) - (answeredAt === null ? now.getTime() : answeredAt + 1000), GLASS_MAX_GRANT_MS);
      if (!(lengthMs > 0)) throw new AppError('GLASS_REFUSED', GLASS_NOT_GRANTED_MESSAGE);
      // The grant's end on this computer's clock: the expiry check compares it with this clock.
      const localEnd = new Date(now.getTime() + lengthMs).toISOString();
      if (deps.session() !== session) throw new AppError('LOCKED', 'The app is locked. Sign in with your passkey to continue.');
      // The grant first, then its entry, in one call: every entry from here on naming the patient carries the emergency purpose.
      await session.store.call('storeGrant', {
        grant: { patientId: grant.patientId, grantedAt: now.toISOString(), expiresAt: localEnd, reasonCode: input.reason.code },
        entry: { entities: glassFacts({ reason: input.reason.code, expiresAt }), query: input.reason.text || null },
      });
      runningFor(session).set(grant.patientId, { since: startedAt, lengthMs });
      try {
        await fetchRecords(session, backend, token, grant.patientId);
      } catch (err) {
        throw asGlassError(err, deps);
      }
      return { patientId: grant.patientId, expiresAt: localEnd };
    },

    async active(): Promise<CallOutput<'glass.active'>> {
      const session = openSession();
      const active = await checkNow(session);
      return { grants: active.map((g) => ({ patientId: g.patientId, expiresAt: g.expiresAt })) };
    },

    check,
    refresh,
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

/**
 * The registry's deps with a grant check before every access: a patient
 * whose grant has ended is gone (NOT_FOUND) before any handler reads, and
 * the first access after an unlock re-checks expiry.
 */
export function guardedByGlass(deps: RegistryDeps, glass: Pick<GlassService, 'check'>): RegistryDeps {
  return {
    session() {
      const session = deps.session();
      // Sent now, before the handler's own calls: the store answers in order, so the removal runs before any read.
      if (session) {
        glass.check(session).catch(() => {
          // A removal that could not be written (a full disk, the folder taken by another writer) is tried again at the
          // next access and tick; entries after the grant's end carry the usual purpose whatever happens here.
        });
      }
      return session;
    },
    problem: () => deps.problem(),
    actor: () => deps.actor(),
  };
}
