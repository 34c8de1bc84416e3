/**
 * Electron glue: serves the built renderer from the privileged `app://clinician`
 * origin (standard, secure), never from file://. Must be registered before
 * the app is ready; must never serve anything outside the renderer build.
 */
import { protocol } from 'electron';
import { loadRendererAsset } from './services/renderer-assets';

export const APP_SCHEME = 'app';
export const APP_HOST = 'clinician';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export function registerAppSchemePrivileges(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function serveRendererFrom(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST || request.method !== 'GET') return new Response('not found', { status: 404 });
    const asset = await loadRendererAsset(rendererDir, url.pathname);
    return new Response(new Uint8Array(asset.body), { status: asset.status, headers: asset.headers });
  });
}
