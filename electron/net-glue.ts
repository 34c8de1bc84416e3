/**
 * Glue: the fetch main gives BackendClient and the update-manifest check in
 * the app, Electron's net.fetch (Chromium's network stack: the OS proxy
 * settings and PAC, the OS certificate store). The only file that imports
 * electron's `net` for them. Every request bypasses custom protocol handlers
 * (services/net-fetch-init.ts): the app's own https handler on the default
 * session (app-protocol.ts) must never answer a backend or update request.
 * Must stay a thin binding: no policy, no retries, no logging of URLs or
 * bodies (they can carry PHI or tokens). Usable only once the app is ready
 * (net.fetch is a main-process API tied to the default session).
 */
import { net } from 'electron';
import type { FetchFunction } from './services/backend-client';
import { netFetchThrough } from './services/net-fetch-init';

/** BackendClient's fetch through Chromium's stack (the default session), never through the app's own https handler. */
export const electronNetFetch: FetchFunction = netFetchThrough((input, init) => net.fetch(input, init));
