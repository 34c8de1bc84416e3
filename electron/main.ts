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
import { serveRendererAt } from './app-protocol';
import { bindRegistry } from './ipc-bridge';
import { applyWindowPolicy, createMainWindow } from './window-policy';
import { loadAppConfig } from './services/app-config';
import { AuthService } from './services/auth-service';
import { BackendClient } from './services/backend-client';
import { createHandlerRegistry } from './services/handler-registry';
import { createOsSecretStore } from './services/secret-store';

const IDLE_TICK_MS = 15_000;
const REVOCATION_CHECK_MS = 5 * 60_000;

app.enableSandbox();

if (!app.requestSingleInstanceLock()) {
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
    let config;
    try {
      config = loadAppConfig({ platform: process.platform, env: process.env, packaged: app.isPackaged });
    } catch (err) {
      dialog.showErrorBox('Clinician Desktop', err instanceof Error ? err.message : 'The app is not configured.');
      app.quit();
      return;
    }
    if (process.platform === 'darwin' && config.keychainAccessGroup) {
      app.configureWebAuthn({ touchID: { keychainAccessGroup: config.keychainAccessGroup, promptReason: 'unlock patient records for $1' } });
    }
    auth = new AuthService({
      dataDir: config.dataDir ?? join(app.getPath('userData'), 'cache'),
      secrets: createOsSecretStore(),
      backend: new BackendClient(config.backendUrl),
      rpId: config.rpId,
      origins: [new URL(config.appOrigin).origin],
    });
    const service = auth;
    // Camera and microphone for the app's page only while a consultation is active; screen sharing only by policy.
    const mediaPolicy = { appOrigin: config.appOrigin, screenShareAllowed: config.consultScreenShare ?? false };
    applyWindowPolicy(() => ({ ...mediaPolicy, callActive: service.consult.media.active }));
    serveRendererAt(config.appOrigin, join(__dirname, '..', 'renderer'));
    await auth.start();
    bindRegistry(ipcMain, createHandlerRegistry(service, service), {
      trustedOrigins: [new URL(config.appOrigin).origin],
      onInternalError: (name, err) => console.error(`[ipc] ${name} failed: ${err instanceof Error ? err.name : 'error'}`),
    });
    powerMonitor.on('lock-screen', () => service.lockNow('screen-lock'));
    powerMonitor.on('suspend', () => service.lockNow('sleep'));
    setInterval(() => service.tick(), IDLE_TICK_MS).unref();
    setInterval(() => void service.checkRevocation(), REVOCATION_CHECK_MS).unref();
    createMainWindow(join(__dirname, 'preload.cjs'), config.appOrigin);
  });
}
