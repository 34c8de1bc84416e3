/**
 * Electron glue: the security policy of every window and web contents.
 * Context isolation, sandbox, no Node, web security on; navigation, new
 * windows, webviews and permission requests denied. Never relax one of these
 * for a feature without saying which permission and why, here.
 */
import { app, BrowserWindow, session, type Session, type WebContents } from 'electron';

export function denyPermissions(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}

function lockDownContents(contents: WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

export function applyWindowPolicy(): void {
  denyPermissions(session.defaultSession);
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents));
}

export function createMainWindow(preloadPath: string, appOrigin: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'Clinician Desktop',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(new URL('/index.html', appOrigin).toString());
  return win;
}
