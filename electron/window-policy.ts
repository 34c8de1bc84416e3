/**
 * Electron glue: the security policy of every window and web contents.
 * Context isolation, sandbox, no Node, web security on; navigation, new
 * windows, webviews and permission requests denied. Never relax one of these
 * for a feature without saying which permission and why, here.
 * The one relaxation: consultations (issue 11). Camera and microphone
 * ('media', audio and video only) are granted to the app's own origin, its
 * top-level page, only while a call is active; screen capture only when the
 * machine policy's consultScreenShare allows it, during a call, on a user
 * gesture. The decisions are plain functions in
 * services/consult/media-permission.ts (tested there); this file only binds them.
 */
import { app, BrowserWindow, desktopCapturer, session, type MediaAccessPermissionRequest, type Session, type WebContents } from 'electron';
import { DEVELOPMENT_BUILD } from './build-flavour';
import { displayMediaAllowed, permissionAllowed, type MediaPolicyState } from './services/consult/media-permission';

/** What the permission handlers ask at each decision: the app's origin, whether a call is active, the screen-share policy. */
export type MediaPolicy = () => MediaPolicyState;

/** With no media policy (or none given yet) every permission is denied, as before consultations. */
export function denyPermissions(ses: Session, policy?: MediaPolicy): void {
  ses.setPermissionRequestHandler((_contents, permission, callback, details) => {
    // A 'media' request carries mediaTypes and securityOrigin; other requests have neither (and are denied anyway).
    const media = details as Partial<MediaAccessPermissionRequest>;
    const ask = {
      permission,
      origins: [details.requestingUrl, media.securityOrigin],
      isMainFrame: details.isMainFrame,
      mediaTypes: media.mediaTypes,
    };
    callback(policy !== undefined && permissionAllowed(ask, policy()));
  });
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) => {
    if (policy === undefined) return false;
    const ask = {
      permission,
      origins: [requestingOrigin, details.securityOrigin, details.requestingUrl],
      embeddingOrigin: details.embeddingOrigin,
      isMainFrame: details.isMainFrame,
      mediaTypes: details.mediaType !== undefined ? [details.mediaType] : [],
    };
    return permissionAllowed(ask, policy());
  });
  ses.setDevicePermissionHandler(() => false);
  ses.setDisplayMediaRequestHandler((request, callback) => {
    let frame: { url: string; isMainFrame: boolean } | null = null;
    try {
      frame = request.frame ? { url: request.frame.url, isMainFrame: request.frame.parent === null } : null;
    } catch {
      // the frame went away: denied below
    }
    const ask = { securityOrigin: request.securityOrigin, frame, userGesture: request.userGesture };
    if (policy === undefined || !displayMediaAllowed(ask, policy())) {
      callback(null);
      return;
    }
    // Allowed by policy: the primary screen (Electron has no picker of its own off macOS); never system audio.
    desktopCapturer.getSources({ types: ['screen'] }).then(
      (sources) => (sources[0] && policy().callActive ? callback({ video: sources[0] }) : callback(null)),
      () => callback(null),
    );
  });
}

function lockDownContents(contents: WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

export function applyWindowPolicy(policy?: MediaPolicy): void {
  denyPermissions(session.defaultSession, policy);
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents));
}

export function createMainWindow(preloadPath: string, appOrigin: string): BrowserWindow {
  const win = new BrowserWindow({ // eng-disable AUXCLICK_JS_CHECK: a middle-click cannot open a window: lockDownContents denies every new window (setWindowOpenHandler) and navigation for all web contents
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'Clinician Desktop',
    show: false,
    webPreferences: {
      preload: preloadPath, // eng-disable PRELOAD_JS_CHECK: reviewed: preload.ts exposes only the contract's calls through contextBridge, never ipcRenderer or Node
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: DEVELOPMENT_BUILD, // compiled in (build-flavour.ts), not app.isPackaged, which renaming the binary flips
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(new URL('/index.html', appOrigin).toString());
  return win;
}
