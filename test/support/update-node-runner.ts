/**
 * electron-updater's real download path run under Node, without the Electron
 * binary: a BaseUpdater subclass given an AppAdapter of test folders and an
 * HttpExecutor over node:http (electron-updater's own executor uses
 * electron.net, which needs the binary). Everything between "here is the
 * update info" and "the installer is on disk with the manifest's sha512" is
 * electron-updater's own code; only the final install is recorded instead of
 * run (there is no installer to run here).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import electronUpdater from 'electron-updater';
import type { AppAdapter } from 'electron-updater/out/AppAdapter';
import type { DownloadUpdateOptions } from 'electron-updater/out/AppUpdater';
import type { InstallOptions } from 'electron-updater/out/BaseUpdater';
import { findFile } from 'electron-updater/out/providers/Provider.js';
import { configureRequestOptions, configureRequestUrl, HttpExecutor, type DownloadOptions } from 'builder-util-runtime';

class NodeHttpExecutor extends HttpExecutor<ClientRequest> {
  createRequest(options: RequestOptions, callback: (response: IncomingMessage) => void): ClientRequest {
    const request = (options.protocol === 'https:' ? httpsRequest : httpRequest)(options);
    request.on('response', callback);
    return request;
  }

  /** The same steps as electron-updater's ElectronHttpExecutor.download, over node:http. */
  download(url: URL, destination: string, options: DownloadOptions): Promise<string> {
    return options.cancellationToken.createPromise<string>((resolve, reject, onCancel) => {
      const requestOptions: RequestOptions = { headers: options.headers ?? undefined };
      configureRequestUrl(url, requestOptions);
      configureRequestOptions(requestOptions);
      this.doDownload(requestOptions, { destination, options, onCancel, callback: (error) => (error == null ? resolve(destination) : reject(error)), responseHandler: null }, 0);
    });
  }
}

export class NodeRunUpdater extends electronUpdater.BaseUpdater {
  readonly installs: InstallOptions[] = [];
  /** What electron-updater registered through AppAdapter.onQuit (Electron's app.once('quit')). */
  private readonly quitHandlers: ((exitCode: number) => void)[];
  /** When set, the next doInstall throws it (as the installer failing to start would). */
  failInstallWith: Error | null = null;

  constructor(folder: string, version: string) {
    const quitHandlers: ((exitCode: number) => void)[] = [];
    const app: AppAdapter = {
      version,
      name: 'clinician-desktop',
      isPackaged: true,
      appUpdateConfigPath: join(folder, 'app-update.yml'),
      userDataPath: join(folder, 'user-data'),
      baseCachePath: join(folder, 'cache'),
      whenReady: () => Promise.resolve(),
      relaunch: () => undefined,
      quit: () => undefined,
      onQuit: (handler) => void quitHandlers.push(handler),
    };
    mkdirSync(app.userDataPath, { recursive: true });
    // What electron-builder writes into a packaged app (the updater reads its cache folder name from it).
    writeFileSync(app.appUpdateConfigPath, 'provider: generic\nurl: https://updates.invalid/\nupdaterCacheDirName: clinician-desktop-updater\n');
    super(null, app);
    // AppUpdater builds electron.net's executor only when no AppAdapter is given; with one, the executor is ours to set.
    (this as unknown as { httpExecutor: HttpExecutor<ClientRequest> }).httpExecutor = new NodeHttpExecutor();
    this.logger = null;
    this.quitHandlers = quitHandlers;
  }

  /** How many quit handlers electron-updater registered. */
  get quitHandlerCount(): number {
    return this.quitHandlers.length;
  }

  /** The app's 'quit' event as Electron fires it (after every 'before-quit' listener ran): runs what electron-updater registered. */
  fireQuit(exitCode = 0): void {
    for (const handler of this.quitHandlers.splice(0)) handler(exitCode);
  }

  /** Where electron-updater put the downloaded, sha512-checked installer; null when none. */
  get downloadedFile(): string | null {
    return this.installerPath;
  }

  /** As AppImageUpdater.doDownloadUpdate, without the AppImage-only steps (differential download, chmod). */
  protected doDownloadUpdate(downloadUpdateOptions: DownloadUpdateOptions) {
    const { provider, info } = downloadUpdateOptions.updateInfoAndProvider;
    const fileInfo = findFile(provider.resolveFiles(info), 'AppImage');
    if (!fileInfo) throw new Error('no AppImage in the update');
    const executor = (this as unknown as { httpExecutor: NodeHttpExecutor }).httpExecutor;
    return this.executeDownload({
      fileExtension: 'AppImage',
      fileInfo,
      downloadUpdateOptions,
      task: async (updateFile, downloadOptions) => {
        await executor.download(fileInfo.url, updateFile, downloadOptions);
      },
    });
  }

  /** BaseUpdater's own quitAndInstall, minus the part only Electron has (electron.autoUpdater's event, app.quit). */
  override quitAndInstall(isSilent = false, isForceRunAfter = false): void {
    // As BaseUpdater's: an install that did not start may be tried again.
    if (!this.install(isSilent, isForceRunAfter)) (this as unknown as { quitAndInstallCalled: boolean }).quitAndInstallCalled = false;
  }

  protected doInstall(options: InstallOptions): boolean {
    if (this.failInstallWith) {
      const failure = this.failInstallWith;
      this.failInstallWith = null;
      throw failure;
    }
    this.installs.push(options);
    return true;
  }
}
