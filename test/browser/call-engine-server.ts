/**
 * Serves the call-engine test page from http://localhost (a secure context):
 * the engine page script and the real media worker, each bundled by esbuild
 * as an ES module; the worker is served at the path the engine's
 * `new URL('../consult-worker/media-worker.ts', import.meta.url)` names, so
 * the engine creates it exactly as in the Vite build. Chromium for these pages:
 * test/support/media-browser.ts (fake camera and microphone, no DNS).
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { ROOT } from './harness';

function bundle(entry: string): string {
  return buildSync({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
  }).outputFiles[0]!.text;
}

export interface CallEngineServer {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

export async function serveCallEnginePage(): Promise<CallEngineServer> {
  const page = bundle('test/browser/call-engine-page.ts');
  const worker = bundle('renderer/consult-worker/media-worker.ts');
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>call</title><script type="module" src="/call-page.js"></script></head><body></body></html>';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = path === '/' ? html : path === '/call-page.js' ? page : path === '/consult-worker/media-worker.ts' ? worker : null;
    if (body === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': path === '/' ? 'text/html' : 'text/javascript', 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, origin: `http://localhost:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
