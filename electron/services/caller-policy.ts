/**
 * Decides whether an IPC caller may use the contract at all: only the app's
 * own top-level page, at the app's own origin. The Electron glue and the
 * browser harness both describe the caller the same way and ask here. Never
 * trust a subframe, a foreign origin or an origin that failed to parse.
 */

export interface Caller {
  /** URL of the frame that sent the call. */
  url: string;
  isMainFrame: boolean;
  /** The sending window's web contents id (set by the Electron glue): binds a prepared print to the window that prepared it. */
  windowId?: number;
}

/**
 * scheme://host[:port] of a URL. Built by hand because Node's URL gives the
 * opaque origin "null" for custom schemes such as app://, which Chromium
 * treats as standard. URLs without a host (file:, data:, blob:) have none.
 */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.host ? `${u.protocol}//${u.host}` : null;
  } catch {
    return null;
  }
}

export function isTrustedCaller(caller: Caller, trustedOrigins: readonly string[]): boolean {
  if (!caller.isMainFrame) return false;
  const origin = originOf(caller.url);
  return origin !== null && trustedOrigins.includes(origin);
}
