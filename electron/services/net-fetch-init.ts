/**
 * What main hands Electron's net.fetch for every request it sends to the
 * network (the backend, the update manifest): the caller's init with
 * `bypassCustomProtocolHandlers: true` added. The app serves its renderer
 * with `protocol.handle('https', …)` on the default session
 * (electron/app-protocol.ts), and net.fetch on that session runs custom
 * protocol handlers unless told to bypass them: without the flag every
 * backend call would be answered by our own handler (403 'blocked').
 *
 * Must never drop or change any other option the caller gave (method,
 * headers, body, signal, redirect, credentials, cache), never let a caller
 * turn the bypass off, and never import electron (net-glue.ts binds it).
 */
import type { FetchFunction } from './backend-client';

/** The init net.fetch takes: the standard one plus Electron's bypass flag. */
export type NetFetchInit = RequestInit & { bypassCustomProtocolHandlers: true };

/** net.fetch's shape as far as main uses it (Electron's net.fetch in the app; a recording fetcher in tests). */
export type NetFetcher = (input: string, init: NetFetchInit) => Promise<Response>;

/** The caller's init, unchanged, plus the bypass (a copy: the caller's object is not touched). */
export function backendFetchInit(init: RequestInit | undefined): NetFetchInit {
  return { ...init, bypassCustomProtocolHandlers: true };
}

/** A FetchFunction over net.fetch that always bypasses the app's own protocol handlers. */
export function netFetchThrough(fetcher: NetFetcher): FetchFunction {
  return (input, init) => fetcher(input, backendFetchInit(init));
}
