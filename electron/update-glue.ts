/**
 * Binds electron-updater to the update service (electron/services/update/):
 * a custom electron-updater Provider that hands electron-updater only the
 * manifest our service fetched and verified (Ed25519 over the exact bytes,
 * key compiled into this build), so electron-updater downloads the installer
 * and checks its sha512 from that verified manifest, then its own platform
 * checks run (Windows: publisher name of the installer's Authenticode
 * signature, from app-update.yml; macOS: Squirrel.Mac's code-signature check).
 *
 * Must never: give electron-updater a manifest it fetched itself, let it pick
 * a staging group or a downgrade on its own, or install on quit while changes
 * wait to be sent. The only file that imports electron-updater.
 */
// electron-updater is CommonJS with getter exports (autoUpdater is created on first read), so read it through the default export.
import electronUpdater, { type AppUpdater, type ResolvedUpdateFileInfo } from 'electron-updater';
import type { CustomPublishOptions, UpdateFileInfo, UpdateInfo } from 'builder-util-runtime';
import type { ProviderRuntimeOptions } from 'electron-updater/out/providers/Provider';
import { checkUpdateUrl, type FetchLike, type VerifiedManifest } from './services/update/manifest-verifier';
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
    return updateInfo.files.map((info: UpdateFileInfo) => ({ url: checkUpdateUrl(new URL(info.url, current.baseUrl).href), info }));
  }
}

/** The service's downloader over an electron-updater instance (the app's autoUpdater, or the tests' Node-run updater). */
export function electronUpdaterDownloader(updater: AppUpdater): UpdateDownloader {
  let verified: VerifiedManifest | null = null;
  updater.autoDownload = false;
  updater.autoInstallOnAppQuit = false;
  updater.allowDowngrade = false;
  updater.allowPrerelease = false;
  updater.disableDifferentialDownload = true;
  // The staging decision was ours (./services/update/update-decision.ts), against the machine's own bucket.
  updater.isUserWithinRollout = () => true;
  const options: VerifiedProviderOptions = { provider: 'custom', updateProvider: VerifiedProvider, verified: () => verified };
  updater.setFeedURL(options);
  return {
    async download(manifest) {
      verified = manifest;
      const result = await updater.checkForUpdates();
      if (!result?.isUpdateAvailable || result.updateInfo.version !== manifest.manifest.version) {
        throw new Error('the updater did not take the verified update (not a packaged app?)');
      }
      await updater.downloadUpdate();
    },
    install() {
      updater.quitAndInstall(true, true);
    },
    setInstallOnQuit(allowed) {
      updater.autoInstallOnAppQuit = allowed;
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
  /** Changes waiting in the outbox, or null while the cache is locked (the last known count is kept). */
  waitingChanges(): number | null;
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
