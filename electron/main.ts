/**
 * Electron glue: the app's lifecycle. One instance, one window, the renderer
 * served from app://clinician, the handler registry bound to ipcMain, the
 * cache opened from the OS keychain at start and closed (keys dropped) on
 * quit. Everything that holds PHI or keys lives in ./services as plain Node.
 */
import { app, ipcMain } from 'electron';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { APP_ORIGIN, registerAppSchemePrivileges, serveRendererFrom } from './app-protocol';
import { bindRegistry } from './ipc-bridge';
import { applyWindowPolicy, createMainWindow } from './window-policy';
import { CacheHolder } from './services/cache-holder';
import { createHandlerRegistry } from './services/handler-registry';
import { createOsSecretStore } from './services/secret-store';

registerAppSchemePrivileges();
app.enableSandbox();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  const cache = new CacheHolder();

  app.on('second-instance', () => undefined);
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => cache.close());

  void app.whenReady().then(async () => {
    applyWindowPolicy();
    serveRendererFrom(join(__dirname, '..', 'renderer'));
    bindRegistry(ipcMain, createHandlerRegistry(cache), {
      trustedOrigins: [APP_ORIGIN],
      onInternalError: (name, err) => console.error(`[ipc] ${name} failed: ${err instanceof Error ? err.name : 'error'}`),
    });
    // Until passkey sign-in exists the actor is the OS account on this device.
    await cache.open({
      dataDir: process.env.CLINICIAN_DATA_DIR ?? join(app.getPath('userData'), 'cache'),
      secrets: createOsSecretStore(),
      actor: `os-user:${userInfo().username}`,
      create: true,
    });
    createMainWindow(join(__dirname, 'preload.cjs'));
  });
}
