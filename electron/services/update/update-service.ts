/**
 * The updater's state machine and the one place that decides when an update
 * may be downloaded and installed: verified manifest (./manifest-verifier.ts),
 * its signing time (releaseDate: not older than MAX_MANIFEST_AGE_DAYS, not
 * older than the newest already accepted, ./signed-time.ts), decision
 * (./update-decision.ts), then the injected downloader (electron-updater,
 * bound in electron/update-glue.ts) fetches the installer, bounded by its
 * signed size and a deadline, and checks its sha512 from the verified manifest.
 *
 * Must never: install while the app is locked (no one signed in: whoever is at
 * the screen may not restart it into the update); install during a
 * consultation; install while changes wait in the
 * outbox unless the clinician acknowledged it (nor on quit then, nor during
 * a consultation); stay 'installing' after the install failed; hand a manifest to the
 * downloader before it was verified; accept a replayed older update list
 * silently; put a URL, a path or a key into status.
 */
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { AppError } from '../../../shared/app-error';
import type { UpdateStatus } from '../../../shared/contract';
import type { UpdateSurface } from '../app-surfaces';
import { fetchVerifiedManifest, parsePublicKey, type FetchLike, type VerifiedManifest } from './manifest-verifier';
import { decideUpdate, offReason, type UpdatePolicy } from './update-decision';
import { readOrCreateBucket } from './staging-bucket';
import { readNewestSignedTime, rememberSignedTime } from './signed-time';

export const CHECK_INTERVAL_MS = 4 * 60 * 60 * 1000;
export const STAGING_BUCKET_FILE = 'update-staging-bucket';
/** The newest accepted signing time, beside the staging bucket. */
export const NEWEST_SIGNED_FILE = 'update-newest-signed-time';
/** An update list signed longer ago than this is refused: the server may be replaying an old one. */
export const MAX_MANIFEST_AGE_DAYS = 30;
/** How far in the future a signing time may be (clocks differ a little). */
export const MAX_CLOCK_AHEAD_MS = 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const NEUTRAL = 'The update check did not complete; the app will try again later.';
const INSTALL_FAILED = 'The update could not be installed; the app will try again later.';

/** What electron-updater does for us; the glue implements it, the tests drive it for real under Node. */
export interface UpdateDownloader {
  /** Download the installer this verified manifest names and check its sha512; resolves once it is on disk and checked. */
  download(verified: VerifiedManifest): Promise<void>;
  /** Quit and run the downloaded installer. */
  install(): void;
  /** Whether the downloaded update may install itself when the app quits. */
  setInstallOnQuit(allowed: boolean): void;
  /** Calls `listener` when the updater reports an error outside a download (an install that did not start, Squirrel.Mac refusing it). */
  onInstallError(listener: () => void): void;
}

export interface IntervalTimer {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface UpdateServiceOptions {
  currentVersion: string;
  policy: UpdatePolicy;
  /** base64 of the raw 32-byte Ed25519 public key compiled into the build; empty: updates off. */
  publicKey: string;
  /** The app's data folder (the staging bucket file lives there). */
  dataDir: string;
  /** electron-updater's channel file for this platform (latest.yml, latest-mac.yml, latest-linux.yml). */
  channelFile: string;
  downloader: UpdateDownloader;
  /** Whether a consultation is running here now (auth.consult.media.active in the app). */
  consultationActive(): boolean;
  /**
   * How many changes wait in the outbox; null when it cannot be read now (the
   * cache is locked, no one signed in): then install() is refused until the
   * unlock. The last known count is kept; never known counts as waiting. A
   * rejection counts as null.
   */
  waitingChanges(): Promise<number | null>;
  fetch?: FetchLike;
  timer?: IntervalTimer;
  intervalMs?: number;
  /** The clock (ms since the epoch) the signing time is judged by; Date.now by default. */
  now?: () => number;
  /** One line per refused or failed check, for the app's log; never carries a URL or a key. */
  log?: (line: string) => void;
}

export interface UpdateService extends UpdateSurface {
  start(): void;
  stop(): void;
  /** One check now (start and the timer call this); resolves when the check (and any download) settles. */
  checkNow(): Promise<void>;
  /**
   * Re-evaluated before quitting: whether the downloaded update may install
   * on quit, on the outbox count last read (synchronous: main calls it in
   * before-quit, after the quit locked the cache, so the last count read is
   * all there is; every status, install and timer tick reads it).
   */
  mayInstallOnQuit(): boolean;
  /** Reads the outbox count now, then decides as mayInstallOnQuit. */
  recheckInstallOnQuit(): Promise<boolean>;
}

export function createUpdateService(options: UpdateServiceOptions): UpdateService {
  const key: KeyObject | null = parsePublicKey(options.publicKey);
  const off = offReason(options.policy, key !== null);
  const timer: IntervalTimer = options.timer ?? { setInterval: (fn, ms) => setInterval(fn, ms).unref(), clearInterval: (h) => clearInterval(h as NodeJS.Timeout) };
  let state: UpdateStatus['state'] = off ? 'off' : 'idle';
  let availableVersion: string | null = null;
  let message: string | null = off;
  let handle: unknown = null;
  let running: Promise<void> | null = null;
  let installing = false;

  let lastWaiting: number | null = null;
  /**
   * The outbox now: `locked` when it cannot be read (no one is signed in, so
   * whoever is at the screen is nobody we know), and the count (the last
   * known while locked; never known counts as waiting).
   */
  async function readWaiting(): Promise<{ locked: boolean; count: number }> {
    const now = await options.waitingChanges().catch(() => null);
    if (now !== null) lastWaiting = now;
    return { locked: now === null, count: lastWaiting ?? 1 };
  }

  async function waitingFor(): Promise<UpdateStatus['waitingFor']> {
    if (state !== 'ready') return [];
    const { locked, count } = await readWaiting();
    const reasons: UpdateStatus['waitingFor'] = [];
    if (locked) reasons.push('locked');
    if (options.consultationActive()) reasons.push('consultation');
    if (count > 0) reasons.push('unsynced-changes');
    return reasons;
  }

  function mayInstallOnQuit(): boolean {
    const allowed = state === 'ready' && !installing && !options.consultationActive() && (lastWaiting ?? 1) === 0;
    options.downloader.setInstallOnQuit(allowed);
    return allowed;
  }

  async function recheckInstallOnQuit(): Promise<boolean> {
    await readWaiting();
    return mayInstallOnQuit();
  }

  /** Refuses a list signed too long ago, in the future, or before the newest one accepted; then remembers it. */
  function checkSigningTime(signedAt: number): void {
    const now = (options.now ?? Date.now)();
    const newestFile = join(options.dataDir, NEWEST_SIGNED_FILE);
    if (signedAt > now + MAX_CLOCK_AHEAD_MS) {
      throw new AppError('UPDATE_REJECTED', 'The update list is dated in the future; check this computer’s clock, or ask IT.');
    }
    if (now - signedAt > MAX_MANIFEST_AGE_DAYS * DAY_MS) {
      throw new AppError('UPDATE_REJECTED', 'The update server offers only an old update list; ask IT.');
    }
    const newest = readNewestSignedTime(newestFile);
    if (newest !== null && signedAt < newest) {
      throw new AppError('UPDATE_REJECTED', 'The update server offers an older update list than one already seen; ask IT.');
    }
    rememberSignedTime(newestFile, signedAt);
  }

  /** The updater reported an error while an update was ready or installing: nothing was installed; the next check starts afresh. */
  options.downloader.onInstallError(() => {
    if (state !== 'ready' && !installing) return;
    installing = false;
    state = 'failed';
    availableVersion = null;
    message = INSTALL_FAILED;
    options.downloader.setInstallOnQuit(false);
    options.log?.('update install failed');
  });

  async function check(): Promise<void> {
    if (off || !key || !options.policy.updateUrl) return;
    if (state === 'ready' || installing) return;
    state = 'checking';
    try {
      const verified = await fetchVerifiedManifest({ updateUrl: options.policy.updateUrl, channelFile: options.channelFile, publicKey: key, fetch: options.fetch });
      const { manifest } = verified;
      checkSigningTime(Date.parse(manifest.releaseDate));
      const decision = decideUpdate({
        currentVersion: options.currentVersion,
        offeredVersion: manifest.version,
        stagingPercentage: manifest.stagingPercentage,
        policy: options.policy,
        bucket: readOrCreateBucket(join(options.dataDir, STAGING_BUCKET_FILE)),
      });
      if (decision.kind === 'none') {
        state = 'idle';
        message = decision.message;
        return;
      }
      if (decision.kind === 'refused') throw new AppError('UPDATE_REJECTED', decision.message);
      state = 'downloading';
      availableVersion = decision.version;
      message = null;
      await options.downloader.download(verified);
      state = 'ready';
      await recheckInstallOnQuit();
    } catch (err) {
      state = 'failed';
      availableVersion = null;
      message = err instanceof AppError ? err.message : NEUTRAL;
      options.log?.(`update check failed: ${err instanceof AppError ? err.code : 'internal error'}`);
    }
  }

  function checkNow(): Promise<void> {
    running ??= check().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    start() {
      if (off || handle !== null) return;
      void checkNow();
      handle = timer.setInterval(() => {
        void recheckInstallOnQuit();
        void checkNow();
      }, options.intervalMs ?? CHECK_INTERVAL_MS);
    },
    stop() {
      if (handle !== null) timer.clearInterval(handle);
      handle = null;
    },
    checkNow,
    mayInstallOnQuit,
    recheckInstallOnQuit,
    async status() {
      const reasons = await waitingFor();
      return { state, currentVersion: options.currentVersion, availableVersion: state === 'downloading' || state === 'ready' ? availableVersion : null, waitingFor: state === 'ready' ? reasons : [], message };
    },
    async install(acceptUnsynced: boolean) {
      if (state !== 'ready') throw new AppError('UPDATE_UNAVAILABLE', 'No verified update is ready to install.');
      const { locked, count } = await readWaiting();
      // The install error listener may have ended 'ready' while the outbox was read.
      if (state !== 'ready') throw new AppError('UPDATE_UNAVAILABLE', 'No verified update is ready to install.');
      // Available before sign-in: at the lock screen nobody signed in may restart the app into the update.
      if (locked) throw new AppError('UPDATE_DEFERRED', 'Unlock first; the update waits.');
      if (options.consultationActive()) throw new AppError('UPDATE_DEFERRED', 'The update waits until the consultation ends.');
      if (count > 0 && !acceptUnsynced) {
        throw new AppError('UPDATE_DEFERRED', 'Some changes are not sent yet. They are kept and sent after the update; confirm to update now.');
      }
      installing = true;
      options.downloader.setInstallOnQuit(false);
      options.downloader.install();
      return { installing: state === 'ready' && installing };
    },
  };
}
