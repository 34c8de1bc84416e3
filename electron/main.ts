/**
 * Electron glue: the app's lifecycle. One instance, one window, the renderer
 * served at the organisation's https app origin, the handler registry bound
 * to ipcMain, sign-in and lock through the auth service. Locks on OS screen
 * lock, sleep and quit (even during a sign-in: the lock wins), logging the
 * session out; the idle timer ticks here. Everything that holds PHI
 * or keys lives in ./services as plain Node.
 */
import { app, dialog, ipcMain, powerMonitor } from 'electron';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { serveRendererAt } from './app-protocol';
import { bindRegistry } from './ipc-bridge';
import { applyWindowPolicy, createMainWindow } from './window-policy';
import { DEVELOPMENT_BUILD } from './build-flavour';
import { refusedLaunchSwitches } from './services/launch-switches';
import { electronNetFetch } from './net-glue';
import { utilityProcessHelper } from './keychain-helper-glue';
import { startAppUpdates } from './update-glue';
import { resolveAppConfig, updatePolicyOf, type AppConfig } from './services/app-config';
import { AuthService } from './services/auth-service';
import { BackendClient, REQUEST_TIMEOUT_MS } from './services/backend-client';
import { createHandlerRegistry } from './services/handler-registry';
import { syncCounts } from './services/outbox';
import { machinePolicyReader } from './services/policy/machine-policy';
import { createSettingsSurface, effectiveSettings } from './services/policy/effective-settings';
import { applyContentProtection, saveDialogDestination, windowPrintOutput } from './export-glue';
import { createExportSurface } from './services/export/export-surface';
import { createGlassSurface, guardedByGlass } from './services/glass/glass-surface';
import { exportPolicyOf } from './services/export/export-policy';
import type { SettingsInputs } from './services/policy/effective-settings';
import { createOsSecretStore, setKeychainHelperLauncher } from './services/secret-store';
import { getWorkspace } from './services/workspace-state';
import { pageCacheOf, usePageCache } from './services/page-cache-policy';

const IDLE_TICK_MS = 15_000;
const REVOCATION_CHECK_MS = 5 * 60_000;

// A release build refuses to start with a switch that would let a local user attach to or weaken it (remote debugging, inspector, sandbox off...).
const refusedSwitches = DEVELOPMENT_BUILD ? [] : refusedLaunchSwitches((name) => app.commandLine.hasSwitch(name), process.argv);
if (refusedSwitches.length > 0) {
  dialog.showErrorBox('Clinician Desktop', `Clinician Desktop refused to start with --${refusedSwitches.join(', --')}. Start it from its usual shortcut.`);
  app.exit(1);
}

app.enableSandbox();
// The packaged app's RunAsNode fuse is off: the keychain helper runs as an Electron utility process.
setKeychainHelperLauncher(utilityProcessHelper);

if (refusedSwitches.length > 0 || !app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let auth: AuthService | null = null;
  app.on('second-instance', () => undefined);
  app.on('window-all-closed', () => app.quit());
  // Lock at once; quit for real once the session's logout had its (bounded) chance to reach the backend.
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !auth) return;
    quitting = true;
    event.preventDefault();
    void auth.quit().finally(() => app.quit());
  });

  void app.whenReady().then(async () => {
    let config: AppConfig;
    let settingsInputs: SettingsInputs;
    try {
      // IT's machine policy: Group Policy (HKLM), macOS forced managed preferences, or the root-owned Linux file.
      const policy = await machinePolicyReader(process.platform).read();
      const resolved = resolveAppConfig({ platform: process.platform, env: process.env, developmentBuild: DEVELOPMENT_BUILD, policy });
      for (const problem of resolved.problems) console.warn(`[policy] ${problem}`);
      config = resolved.config;
      settingsInputs = resolved.inputs;
      // IT's cachePageCacheMiB (its problem, if refused, is among those logged above): every cache opened from now on uses it.
      usePageCache(pageCacheOf(effectiveSettings(settingsInputs)));
    } catch (err) {
      dialog.showErrorBox('Clinician Desktop', err instanceof Error ? err.message : 'The app is not configured.');
      app.quit();
      return;
    }
    if (process.platform === 'darwin' && config.keychainAccessGroup) {
      app.configureWebAuthn({ touchID: { keychainAccessGroup: config.keychainAccessGroup, promptReason: 'unlock patient records for $1' } });
    }
    // Chromium's network stack: the system proxy, PAC and the OS certificate store.
    const backend = new BackendClient(config.backendUrl, REQUEST_TIMEOUT_MS, electronNetFetch);
    auth = new AuthService({
      dataDir: config.dataDir ?? join(app.getPath('userData'), 'cache'),
      secrets: createOsSecretStore(),
      backend,
      rpId: config.rpId,
      origins: [new URL(config.appOrigin).origin],
    });
    const service = auth;
    const settings = createSettingsSurface({
      ...settingsInputs,
      organisation: () => settingsInputs.organisation ?? null,
      // The clinician's theme and density, read from the cache store at each list (none while locked, nor when a lock closed it meanwhile).
      user: async () => {
        const session = service.session();
        if (!session) return null;
        try {
          return await getWorkspace(session);
        } catch (err) {
          if (err instanceof AppError && err.code === 'STORE_CLOSED') return null;
          throw err;
        }
      },
    });
    // Break the glass: online only; a grant's end is checked before every call (guardedByGlass) and on a timer.
    const glass = createGlassSurface({
      session: () => service.session(),
      passkeyToken: () => (service.desktop.hasPasskeySession() ? service.desktop.currentToken() : null),
      online: () => service.syncState().online,
      backend,
      revoked: (message) => void service.wipe(message),
    });
    // Export and print as IT's policy allows (formats, screen-capture protection); destinations only from the OS save dialog.
    const exportPolicy = exportPolicyOf(effectiveSettings(settingsInputs));
    const exports = createExportSurface({ session: () => service.session(), policy: () => exportPolicy, destination: saveDialogDestination, printer: windowPrintOutput, recheck: (s) => glass.check(s) });
    const updates = startAppUpdates({
      config: updatePolicyOf(config),
      currentVersion: app.getVersion(),
      dataDir: app.getPath('userData'),
      consultationActive: () => service.consult.media.active,
      // Every change still in the outbox (waiting or refused) is work not yet on the server; null while locked (or unreadable: the updater then waits).
      waitingChanges: async () => {
        const session = service.session();
        if (!session) return null;
        const counts = await syncCounts(session);
        return counts.waiting + counts.refused;
      },
      onBeforeQuit: (listener) => void app.on('before-quit', listener),
      fetch: electronNetFetch,
      log: (line) => console.warn(`[update] ${line}`),
    });
    // Camera and microphone for the app's page only while a consultation is active; screen sharing only by policy.
    const mediaPolicy = { appOrigin: config.appOrigin, screenShareAllowed: config.consultScreenShare };
    applyWindowPolicy(() => ({ ...mediaPolicy, callActive: service.consult.media.active }));
    serveRendererAt(config.appOrigin, join(__dirname, '..', 'renderer'));
    await auth.start();
    bindRegistry(ipcMain, createHandlerRegistry(guardedByGlass(service, glass), service, { settings, updates, exports, glass }), {
      trustedOrigins: [new URL(config.appOrigin).origin],
      onInternalError: (name, err) => console.error(`[ipc] ${name} failed: ${err instanceof Error ? err.name : 'error'}`),
    });
    powerMonitor.on('lock-screen', () => service.lockNow('screen-lock'));
    powerMonitor.on('suspend', () => service.lockNow('sleep'));
    setInterval(() => service.tick(), IDLE_TICK_MS).unref();
    setInterval(() => void service.checkRevocation(), REVOCATION_CHECK_MS).unref();
    const win = createMainWindow(join(__dirname, 'preload.cjs'), config.appOrigin);
    applyContentProtection(win, exportPolicy.screenCaptureProtection);
  });
}
