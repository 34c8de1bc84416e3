/**
 * Binds electron-updater to the update service (electron/services/update/):
 * a custom electron-updater Provider that hands electron-updater only the
 * manifest our service fetched and verified (Ed25519 over the exact bytes,
 * key compiled into this build), so electron-updater downloads the installer
 * and checks its sha512 from that verified manifest, then its own platform
 * checks run (Windows: publisher name of the installer's Authenticode
 * signature, from app-update.yml; macOS: Squirrel.Mac's code-signature check).
 *
 * The download is bounded here, on electron-updater's own HttpExecutor (the
 * app's is ElectronHttpExecutor over electron.net; the tests' is node:http;
 * both run builder-util-runtime's HttpExecutor.doDownload, which calls
 * `this.createRequest` and pipes the response it gets to the file): the
 * executor's createRequest is wrapped so the response body passes through a
 * counter that stops the download (aborts the request, cancels
 * electron-updater's CancellationToken) as soon as more bytes than the signed
 * size arrive, or a Content-Length says so, and refuses a body that ends short
 * of it; a deadline cancels a download that drags on. electron-updater then
 * deletes its partial file; the downloaded file's length is checked again.
 *
 * Must never: give electron-updater a manifest it fetched itself, let it pick
 * a staging group or a downgrade on its own, let a download run past its
 * signed size or its deadline, let electron-updater log (its messages carry
 * URLs and paths), leave electron-updater's 'error' event without a listener,
 * or install on quit while changes wait to be sent. The only
 * file that imports electron-updater.
 */
// electron-updater is CommonJS with getter exports (autoUpdater is created on first read), so read it through the default export.
import electronUpdater, { type AppUpdater, type ResolvedUpdateFileInfo } from 'electron-updater';
import type { CustomPublishOptions, HttpExecutor, UpdateFileInfo, UpdateInfo } from 'builder-util-runtime';
import type { ProviderRuntimeOptions } from 'electron-updater/out/providers/Provider';
import type { RequestOptions } from 'node:http';
import { stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { AppError } from '../shared/app-error';
import { installerUrl, type FetchLike, type VerifiedManifest } from './services/update/manifest-verifier';
import { createUpdateService, type UpdateDownloader, type UpdateService } from './services/update/update-service';
import type { UpdatePolicy } from './services/update/update-decision';

/** Set by build/bundle-electron.mjs from CLINICIAN_UPDATE_PUBLIC_KEY (base64 of the raw 32-byte Ed25519 key); '' when the build had none. */
declare const __CLINICIAN_UPDATE_PUBLIC_KEY__: string | undefined;

export function compiledUpdatePublicKey(): string {
  return typeof __CLINICIAN_UPDATE_PUBLIC_KEY__ === 'string' ? __CLINICIAN_UPDATE_PUBLIC_KEY__ : '';
}

/** electron-updater's channel file for this platform (what electron-builder publishes). */
export function channelFileFor(platform: NodeJS.Platform, arch: string): string {
  if (platform === 'win32') return 'latest.yml';
  if (platform === 'darwin') return 'latest-mac.yml';
  return arch === 'x64' ? 'latest-linux.yml' : `latest-linux-${arch}.yml`;
}

interface VerifiedProviderOptions extends CustomPublishOptions {
  readonly verified: () => VerifiedManifest | null;
}

/** electron-updater's Provider over the manifest our service verified; it never fetches one. */
export class VerifiedProvider extends electronUpdater.Provider<UpdateInfo> {
  private readonly verified: () => VerifiedManifest | null;

  constructor(options: CustomPublishOptions, _updater: unknown, runtimeOptions: ProviderRuntimeOptions) {
    super(runtimeOptions);
    this.verified = (options as VerifiedProviderOptions).verified;
  }

  async getLatestVersion(): Promise<UpdateInfo> {
    const current = this.verified();
    if (!current) throw new Error('no verified update manifest');
    return current.manifest as unknown as UpdateInfo;
  }

  resolveFiles(updateInfo: UpdateInfo): ResolvedUpdateFileInfo[] {
    const current = this.verified();
    if (!current || (current.manifest as unknown) !== updateInfo) throw new Error('update info is not the verified manifest');
    return updateInfo.files.map((info: UpdateFileInfo) => ({ url: installerUrl(current.baseUrl, info.url), info }));
  }
}

/** A download must finish within this (then it is cancelled and the next check starts afresh). */
export const DOWNLOAD_DEADLINE_MS = 30 * 60 * 1000;

/** The deadline's timer (injected by the tests). */
export interface DownloadTimeouts {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface DownloaderOptions {
  deadlineMs?: number;
  timeouts?: DownloadTimeouts;
  /** process.platform by default; on 'darwin' the update is handed to Squirrel.Mac only by an explicit install. */
  platform?: NodeJS.Platform;
}

const SIZE_REFUSED = 'The update file did not match the size in the signed update list; the download was stopped and nothing was installed.';
const TOO_SLOW = 'The update download took too long and was stopped; the app will try again later.';
const NOT_DOWNLOADED = 'The update could not be downloaded or failed its integrity check; nothing was installed.';

/** What HttpExecutor.doDownload needs of a request (electron.net's ClientRequest and node:http's both have it). */
interface ExecutorRequest {
  abort: () => void;
  end: (data?: Buffer) => void;
}

/** What HttpExecutor.doDownload reads of a response (electron.net's IncomingMessage and node:http's). */
type DownloadResponse = Readable & { statusCode?: number; statusMessage?: string; headers: Record<string, string | string[] | undefined> };

interface SignedFile {
  href: string;
  name: string;
  size: number;
}

/** One download's bounds: the signed files, the limit of the response being read, why it was stopped. */
class DownloadGuard {
  reason: 'size' | 'deadline' | null = null;
  limit: number;
  private readonly stoppers = new Set<() => void>();

  constructor(
    readonly files: SignedFile[],
    readonly token: InstanceType<typeof electronUpdater.CancellationToken>,
  ) {
    this.limit = Math.max(...files.map((file) => file.size));
  }

  onStop(stopper: () => void): void {
    if (this.reason !== null) stopper();
    else this.stoppers.add(stopper);
  }

  fail(reason: 'size' | 'deadline'): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.token.cancel();
    for (const stop of this.stoppers) stop();
    this.stoppers.clear();
  }

  /** The typed error for a download that did not complete. */
  refusal(): AppError {
    if (this.reason === 'size') return new AppError('UPDATE_REJECTED', SIZE_REFUSED);
    if (this.reason === 'deadline') return new AppError('UPDATE_UNAVAILABLE', TOO_SLOW);
    return new AppError('UPDATE_REJECTED', NOT_DOWNLOADED);
  }
}

function headerValue(response: DownloadResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function requestHref(options: RequestOptions): string | null {
  try {
    return new URL(`${options.protocol ?? 'https:'}//${options.hostname ?? ''}${options.port ? `:${options.port}` : ''}${options.path ?? '/'}`).href;
  } catch {
    return null;
  }
}

/** The response body as doDownload will pipe it: counted, and stopped past the limit. Null when it must not be read at all. */
function boundedBody(response: DownloadResponse, guard: DownloadGuard, abortRequest: () => void): DownloadResponse | null {
  const limit = guard.limit;
  const declared = Number(headerValue(response, 'content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    guard.fail('size');
    response.destroy();
    return null;
  }
  let received = 0;
  let stopped = false;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (stopped) {
        callback();
        return;
      }
      received += chunk.length;
      callback(null, received > limit ? undefined : chunk);
      if (received > limit) guard.fail('size');
    },
    flush(callback) {
      if (!stopped && received !== limit) guard.fail('size');
      callback();
    },
  });
  guard.onStop(() => {
    if (stopped) return;
    stopped = true;
    response.unpipe(body);
    abortRequest();
    response.destroy();
    // Ends the file electron-updater writes (its own error path closes it); the cancelled token already rejected the download.
    body.end();
  });
  response.on('error', (err: Error) => {
    if (!stopped) body.destroy(err);
  });
  Object.assign(body, { statusCode: response.statusCode, statusMessage: response.statusMessage, headers: response.headers });
  response.pipe(body);
  return body as unknown as DownloadResponse;
}

/** Wraps the updater's executor once: while a download runs, every response body is bounded by its guard. False when it has none. */
function boundExecutor(updater: AppUpdater, current: () => DownloadGuard | null): boolean {
  const executor = (updater as unknown as { httpExecutor: HttpExecutor<ExecutorRequest> | null }).httpExecutor;
  if (!executor || typeof executor.createRequest !== 'function') return false;
  const createRequest = executor.createRequest.bind(executor);
  executor.createRequest = (requestOptions: RequestOptions, callback: (response: DownloadResponse) => void): ExecutorRequest => {
    const guard = current();
    if (!guard) return createRequest(requestOptions, callback);
    const href = requestHref(requestOptions);
    // The installer's own URL sets the limit; a redirect keeps the limit of the file it came from.
    const file = guard.files.find((candidate) => candidate.href === href);
    if (file) guard.limit = file.size;
    let request: ExecutorRequest | null = null;
    const abortRequest = () => {
      try {
        request?.abort();
      } catch {
        // already finished
      }
    };
    request = createRequest(requestOptions, (response: DownloadResponse) => {
      if (guard.reason !== null) {
        abortRequest();
        response.destroy();
        return;
      }
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        callback(response);
        return;
      }
      const body = boundedBody(response, guard, abortRequest);
      if (body) callback(body);
      else abortRequest();
    });
    guard.onStop(abortRequest);
    return request;
  };
  return true;
}

/** The downloaded files' lengths against the signed sizes; a file that differs is deleted and refused. */
async function checkDownloadedSizes(paths: string[], files: SignedFile[]): Promise<void> {
  for (const path of paths) {
    const signed = files.filter((file) => file.name === basename(path)).map((file) => file.size);
    const length = (await stat(path)).size;
    if (!signed.includes(length)) {
      await unlink(path).catch(() => undefined);
      throw new AppError('UPDATE_REJECTED', SIZE_REFUSED);
    }
  }
}

/** The service's downloader over an electron-updater instance (the app's autoUpdater, or the tests' Node-run updater). */
export function electronUpdaterDownloader(updater: AppUpdater, downloaderOptions: DownloaderOptions = {}): UpdateDownloader {
  let verified: VerifiedManifest | null = null;
  let guard: DownloadGuard | null = null;
  const deadlineMs = downloaderOptions.deadlineMs ?? DOWNLOAD_DEADLINE_MS;
  // MacUpdater hands the downloaded zip to Squirrel.Mac when autoInstallOnAppQuit is true as the download ends, and
  // Squirrel.Mac then applies it on the next quit whatever we decide later; so on macOS it stays false and the update
  // goes to Squirrel only through install() (MacUpdater.quitAndInstall), and never installs by itself on quit.
  const squirrel = (downloaderOptions.platform ?? process.platform) === 'darwin';
  let errorListener: (() => void) | null = null;
  const timeouts: DownloadTimeouts = downloaderOptions.timeouts ?? {
    set: (fn, ms) => setTimeout(fn, ms).unref(),
    clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
  // electron-updater's default logger is the console, and its lines carry the update URL, cache paths and a staging id.
  updater.logger = null;
  const bounded = boundExecutor(updater, () => guard);
  updater.autoDownload = false;
  // The NSIS web installer's package is a second download the signed files list does not name.
  updater.disableWebInstaller = true;
  updater.autoInstallOnAppQuit = false;
  // Without a listener EventEmitter throws 'error' (MacUpdater re-emits Squirrel.Mac's, e.g. a refused code signature,
  // from the native updater's event: an uncaught exception in main). The error's text carries URLs and paths: not passed on.
  updater.on('error', () => errorListener?.());
  updater.allowDowngrade = false;
  updater.allowPrerelease = false;
  updater.disableDifferentialDownload = true;
  // The staging decision was ours (./services/update/update-decision.ts), against the machine's own bucket.
  updater.isUserWithinRollout = () => true;
  const options: VerifiedProviderOptions = { provider: 'custom', updateProvider: VerifiedProvider, verified: () => verified };
  updater.setFeedURL(options);
  return {
    async download(manifest) {
      if (!bounded) throw new Error('the updater has no HTTP executor to bound (not a packaged app?)');
      const files: SignedFile[] = manifest.manifest.files.map((file) => {
        const url = installerUrl(manifest.baseUrl, file.url);
        // electron-updater names its cached file after the URL's last segment (or the listed url's).
        return [
          { href: url.href, name: basename(decodeURIComponent(url.pathname)), size: file.size },
          { href: url.href, name: basename(file.url), size: file.size },
        ];
      }).flat();
      verified = manifest;
      const result = await updater.checkForUpdates();
      if (!result?.isUpdateAvailable || result.updateInfo.version !== manifest.manifest.version) {
        throw new Error('the updater did not take the verified update (not a packaged app?)');
      }
      const current = new DownloadGuard(files, new electronUpdater.CancellationToken());
      guard = current;
      const deadline = timeouts.set(() => current.fail('deadline'), deadlineMs);
      // BaseUpdater registers its quit handler once, as a download ends, and only if this is true then; the handler
      // re-reads it at app 'quit' (after 'before-quit', where the service sets it: setInstallOnQuit).
      updater.autoInstallOnAppQuit = !squirrel;
      try {
        let paths: string[];
        try {
          paths = await updater.downloadUpdate(current.token);
        } catch {
          throw current.refusal();
        }
        if (current.reason !== null) throw current.refusal();
        await checkDownloadedSizes(paths, files);
      } finally {
        // Until the service decides (setInstallOnQuit, right after this resolves), nothing installs on quit.
        updater.autoInstallOnAppQuit = false;
        timeouts.clear(deadline);
        if (guard === current) guard = null;
      }
    },
    install() {
      updater.quitAndInstall(true, true);
    },
    setInstallOnQuit(allowed) {
      updater.autoInstallOnAppQuit = allowed && !squirrel;
    },
    onInstallError(listener) {
      errorListener = listener;
    },
  };
}

export interface AppUpdatesOptions {
  /** The three update policies, from the effective settings. */
  config: UpdatePolicy;
  /** app.getVersion() */
  currentVersion: string;
  /** app.getPath('userData') */
  dataDir: string;
  consultationActive(): boolean;
  /** Changes waiting in the outbox, or null while the cache is locked (the last known count is kept); a rejection counts as null. */
  waitingChanges(): Promise<number | null>;
  /** app.on('before-quit', …): the updater re-decides whether it may install on quit. */
  onBeforeQuit(listener: () => void): void;
  /** Electron's net.fetch, so the manifest goes through the system proxy like electron-updater's download. */
  fetch?: FetchLike;
  log?: (line: string) => void;
}

/** Starts the updater (or leaves it 'off' with its reason) and returns the surface for the handler registry. */
export function startAppUpdates(options: AppUpdatesOptions): UpdateService {
  const publicKey = compiledUpdatePublicKey();
  const enabled = options.config.updatesEnabled && !!options.config.updateUrl && publicKey !== '';
  const downloader: UpdateDownloader = enabled
    ? electronUpdaterDownloader(electronUpdater.autoUpdater)
    : {
        download: () => Promise.reject(new Error('updates are off')),
        install: () => undefined,
        setInstallOnQuit: () => undefined,
        onInstallError: () => undefined,
      };
  const service = createUpdateService({
    currentVersion: options.currentVersion,
    policy: options.config,
    publicKey,
    dataDir: options.dataDir,
    channelFile: channelFileFor(process.platform, process.arch),
    downloader,
    consultationActive: options.consultationActive,
    waitingChanges: options.waitingChanges,
    fetch: options.fetch,
    log: options.log,
  });
  options.onBeforeQuit(() => service.mayInstallOnQuit());
  service.start();
  return service;
}
