/**
 * Electron glue: serves the built renderer at the organisation's https app
 * origin (e.g. https://clinician.hospital.example), intercepted locally with
 * protocol.handle, never from file://. A real https origin under the
 * relying party's domain is what WebAuthn needs for passkeys. Every other
 * https request from the renderer is refused: it has no business on the
 * network (main talks to the backend).
 */
import { protocol } from 'electron';
import { loadRendererAsset } from './services/renderer-assets';

export function serveRendererAt(appOrigin: string, rendererDir: string): void {
  const host = new URL(appOrigin).host;
  protocol.handle('https', async (request) => {
    const url = new URL(request.url);
    if (url.host !== host || request.method !== 'GET') return new Response('blocked', { status: 403 });
    const asset = await loadRendererAsset(rendererDir, url.pathname);
    return new Response(new Uint8Array(asset.body), { status: asset.status, headers: asset.headers });
  });
}
