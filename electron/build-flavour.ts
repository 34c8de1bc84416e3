/**
 * Whether this is a development build, fixed when the main process is
 * bundled (build/bundle-electron.mjs defines __CLINICIAN_DEVELOPMENT_BUILD__:
 * true only with CLINICIAN_DEVELOPMENT_BUILD=1 or --development-build, which
 * `npm start` passes). Unbundled (tsx: tests, CLI) it is false. Never decide
 * this at run time (Electron's app.isPackaged is only "the binary is not
 * named electron", which any user can arrange), and never import electron.
 */
declare const __CLINICIAN_DEVELOPMENT_BUILD__: boolean | undefined;

export const DEVELOPMENT_BUILD: boolean = typeof __CLINICIAN_DEVELOPMENT_BUILD__ !== 'undefined' && __CLINICIAN_DEVELOPMENT_BUILD__ === true;
