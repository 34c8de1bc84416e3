/**
 * Serves the call-engine test page from http://localhost (a secure context):
 * the engine page script and the real media worker, each bundled by esbuild
 * as an ES module; the worker is served at the path the engine's
 * `new URL('../consult-worker/media-worker.ts', import.meta.url)` names, so
 * the engine creates it exactly as in the Vite build. Also launches Chromium
 * with the fake camera and microphone.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_FLAGS, ROOT } from './harness';

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

export const MEDIA_FLAGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/** Chromium with the fake camera and microphone; no DNS query leaves (only the given hosts resolve). */
export function launchMediaChromium(extraHosts: string[] = []): Promise<Browser> {
  const exclude = ['localhost', '127.0.0.1', ...extraHosts].map((h) => `EXCLUDE ${h}`).join(' , ');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_FLAGS, ...MEDIA_FLAGS, `--host-resolver-rules=MAP * ~NOTFOUND , ${exclude}`],
    headless: true,
  });
}
