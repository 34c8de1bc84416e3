/**
 * The patient's join page, served by the backend: GET JOIN_PAGE_PATH answers
 * the built dist/renderer/join.html, and GET /assets/<file> only the built
 * files that page reaches (found by following file names from join.html
 * through the scripts and styles it loads, so the desktop app's own bundle is
 * not served to the public). Every answer carries the renderer's strict CSP
 * (shared/content-security-policy.ts; a worker script gets its policy from
 * its own response) and no-store. Without a built page: a clear 503.
 * The one-time token is in the URL fragment, which never reaches this code;
 * never log a request here.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONTENT_SECURITY_POLICY } from '../../shared/content-security-policy';
import { JOIN_PAGE_PATH } from '../../shared/consult/signaling-messages';

export const JOIN_ASSETS_PATH = '/assets/:file';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NOT_BUILT = { error: { code: 'CONSULT_UNAVAILABLE', message: 'The consultation join page is not installed on this server.' } };
const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Not found.' } };

interface Built {
  htmlMtime: number;
  html: Buffer;
  assets: Set<string>;
}

/** The files of `assetsDir` that `html` reaches, following names found in each reached text file. */
async function reachable(assetsDir: string, html: string): Promise<Set<string>> {
  let names: string[];
  try {
    names = (await readdir(assetsDir)).filter((n) => FILE_NAME.test(n) && CONTENT_TYPES[extname(n)]);
  } catch {
    return new Set();
  }
  const reached = new Set<string>();
  const queue = [html];
  while (queue.length > 0) {
    const text = queue.pop()!;
    for (const name of names) {
      if (reached.has(name) || !text.includes(name)) continue;
      reached.add(name);
      if (/\.(m?js|css)$/.test(name)) queue.push(await readFile(join(assetsDir, name), 'utf8'));
    }
  }
  return reached;
}

export function registerJoinPage(app: FastifyInstance, { rendererDir }: { rendererDir: string }): void {
  let built: Promise<Built | null> | null = null;
  let checkedMtime = -1;

  /** The built page and its asset set, read again whenever join.html changes (a rebuild). */
  async function current(): Promise<Built | null> {
    const htmlFile = join(rendererDir, 'join.html');
    const mtime = await stat(htmlFile).then((s) => s.mtimeMs, () => null);
    if (mtime === null) {
      built = null;
      checkedMtime = -1;
      return null;
    }
    if (!built || mtime !== checkedMtime) {
      checkedMtime = mtime;
      built = (async () => {
        const html = await readFile(htmlFile);
        return { htmlMtime: mtime, html, assets: await reachable(join(rendererDir, 'assets'), html.toString('utf8')) };
      })().catch(() => null);
    }
    return built;
  }

  const strict = (reply: FastifyReply) =>
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cross-origin-opener-policy', 'same-origin');

  app.get(JOIN_PAGE_PATH, async (_request, reply) => {
    const page = await current();
    if (!page) return reply.status(503).header('retry-after', '60').send(NOT_BUILT);
    return strict(reply).type('text/html; charset=utf-8').send(page.html);
  });

  app.get<{ Params: { file: string } }>(JOIN_ASSETS_PATH, async (request, reply) => {
    const page = await current();
    const name = request.params.file;
    if (!page || !FILE_NAME.test(name) || !page.assets.has(name)) return reply.status(404).send(NOT_FOUND);
    const body = await readFile(join(rendererDir, 'assets', name)).catch(() => null);
    if (!body) return reply.status(404).send(NOT_FOUND);
    return strict(reply).type(CONTENT_TYPES[extname(name)]!).send(body);
  });
}
