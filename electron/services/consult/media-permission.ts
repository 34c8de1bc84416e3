/**
 * Who may use the camera, the microphone and screen capture, as plain
 * functions the window policy (electron/window-policy.ts) only binds, plus
 * the one piece of state they read: whether a consultation is active on this
 * desktop (set by the consult service on connect, cleared on leave, lock,
 * sign-out and a lost socket). Camera and microphone: only the app's own
 * origin, only its top-level page, only audio and video, only while a call
 * is active. Screen capture: only when the organisation's machine policy
 * allows it, and then as above plus a user gesture. Everything else: denied.
 * Never grant on a missing or unparsable origin, and never widen these rules
 * for a feature without saying so here.
 */
import { originOf } from '../caller-policy';

/** What the window policy knows about one permission request or check. */
export interface PermissionAsk {
  /** Electron's permission name ('media', 'display-capture', 'geolocation', …). */
  permission: string;
  /** Every origin Electron told us about this ask (request URL, security origin, requesting origin); all must be the app's. */
  origins: ReadonlyArray<string | null | undefined>;
  /** Set by Electron for cross-origin subframes only: any value means a subframe asks. */
  embeddingOrigin?: string | undefined;
  isMainFrame: boolean;
  /** 'media' requests: the kinds asked for (audio = microphone, video = camera). */
  mediaTypes?: readonly string[] | undefined;
}

export interface MediaPolicyState {
  /** The renderer's origin (the machine policy's appOrigin). */
  appOrigin: string;
  /** Whether a consultation is active on this desktop now. */
  callActive: boolean;
  /** The machine policy's consultScreenShare (default false). */
  screenShareAllowed: boolean;
}

const MEDIA_KINDS: ReadonlySet<string> = new Set(['audio', 'video']);

/** Whether every origin given is the app's own (and at least one is given). */
function fromAppOrigin(origins: PermissionAsk['origins'], appOrigin: string): boolean {
  const own = originOf(appOrigin);
  if (own === null) return false;
  const given = origins.filter((o): o is string => typeof o === 'string' && o !== '');
  return given.length > 0 && given.every((o) => originOf(o) === own);
}

function fromAppPage(ask: PermissionAsk, state: MediaPolicyState): boolean {
  return ask.isMainFrame && ask.embeddingOrigin === undefined && fromAppOrigin(ask.origins, state.appOrigin);
}

/**
 * A permission request (setPermissionRequestHandler) or check
 * (setPermissionCheckHandler; a check's single mediaType goes in
 * mediaTypes, and 'unknown' is refused): true only for the cases above.
 */
export function permissionAllowed(ask: PermissionAsk, state: MediaPolicyState): boolean {
  if (!state.callActive || !fromAppPage(ask, state)) return false;
  if (ask.permission === 'media') {
    const kinds = ask.mediaTypes ?? [];
    return kinds.length > 0 && kinds.every((k) => MEDIA_KINDS.has(k));
  }
  if (ask.permission === 'display-capture') return state.screenShareAllowed;
  return false;
}

/** What the window policy knows about one getDisplayMedia request (setDisplayMediaRequestHandler). */
export interface DisplayMediaAsk {
  securityOrigin: string | null | undefined;
  /** The requesting frame's URL and whether it is the top-level page (null when the frame is gone). */
  frame: { url: string; isMainFrame: boolean } | null;
  userGesture: boolean;
}

/** Screen sharing: only by policy, only during a call, only the app's own top-level page, only on a user gesture. */
export function displayMediaAllowed(ask: DisplayMediaAsk, state: MediaPolicyState): boolean {
  if (!state.screenShareAllowed || !state.callActive || !ask.userGesture || ask.frame === null || !ask.frame.isMainFrame) return false;
  return fromAppOrigin([ask.securityOrigin, ask.frame.url], state.appOrigin);
}

/**
 * Whether a call is active, and so whether camera and microphone may be
 * granted. The consult service activates it once the backend welcomed this
 * desktop into a call and withdraws it whenever that call ends here.
 */
export class MediaPermission {
  /** The connection that holds the grant (opaque to this class), or null. */
  private holder: string | null = null;
  private readonly listeners = new Set<(active: boolean) => void>();

  get active(): boolean {
    return this.holder !== null;
  }

  activate(holder: string): void {
    this.holder = holder;
    for (const l of this.listeners) l(true);
  }

  /** Withdraws the grant (only the given holder's, when one is named: a late close of an older socket withdraws nothing newer). */
  withdraw(holder?: string): void {
    if (this.holder === null || (holder !== undefined && holder !== this.holder)) return;
    this.holder = null;
    for (const l of this.listeners) l(false);
  }

  /** Told every change (the window policy could stop capture already running; tests wait on it). */
  onChange(listener: (active: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
