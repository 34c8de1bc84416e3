/**
 * Glue: the fetch main gives BackendClient in the app, Electron's net.fetch
 * (Chromium's network stack: the OS proxy settings and PAC, the OS
 * certificate store). The only file that imports electron's `net` for the
 * backend. Must stay a thin binding: no policy, no retries, no logging of
 * URLs or bodies (they can carry PHI or tokens). Usable only once the app
 * is ready (net.fetch is a main-process API tied to the default session).
 */
import { net } from 'electron';
import type { FetchFunction } from './services/backend-client';

/** BackendClient's fetch through Chromium's stack (the default session). */
export const electronNetFetch: FetchFunction = (input, init) => net.fetch(input, init);
