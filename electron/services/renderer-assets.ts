/**
 * Maps a request path to a file of the built renderer and the headers it is
 * served with. Used by the app's protocol handler and by the test server, so
 * both serve the renderer the same way. Never resolve a path outside the
 * renderer folder, and never serve without the CSP.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../../shared/content-security-policy';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

export interface RendererAsset {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const NOT_FOUND: RendererAsset = {
  status: 404,
  headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/plain' },
  body: Buffer.from('not found'),
};

export async function loadRendererAsset(rootDir: string, urlPath: string): Promise<RendererAsset> {
  const root = resolve(rootDir);
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    return NOT_FOUND;
  }
  if (relative === '/' || relative === '') relative = '/index.html';
  const file = resolve(root, `.${relative}`);
  const type = CONTENT_TYPES[extname(file)];
  if (!file.startsWith(root + sep) || !type || relative.includes('\0')) return NOT_FOUND;
  try {
    const body = await readFile(file);
    return { status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': type }, body };
  } catch {
    return NOT_FOUND;
  }
}
