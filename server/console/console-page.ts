/**
 * The privacy console's page, served by the backend as the join page is
 * (server/signaling/join-page.ts): GET /console/ answers the built
 * dist/renderer/privacy-console.html, GET /console/assets/<file> only the
 * built files that page reaches (followed by name from the HTML through the
 * scripts and styles it loads; the desktop app's own bundle is never served
 * here), each with the renderer's strict CSP (no inline script, nothing
 * from another origin), nosniff, same-origin opener and no-store. The page
 * holds no data: it is the same for everyone; what it shows comes from the
 * console API after a passkey sign-in. Without a built page: a clear 503.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONTENT_SECURITY_POLICY } from '../../shared/content-security-policy';
import { CONSOLE_PAGE_PATH } from '../../shared/privacy-console-api';

export const CONSOLE_HTML = 'privacy-console.html';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NOT_BUILT = { error: { code: 'CONSOLE_UNAVAILABLE', message: 'The privacy console is not installed on this server.' } };
const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Not found.' } };

interface Built {
  html: Buffer;
  assets: Set<string>;
}

/** The files of `assetsDir` that `html` reaches, following names found in each reached script or style. */
async function reachable(assetsDir: string, html: string): Promise<Set<string>> {
  const names = await readdir(assetsDir).then(
    (all) => all.filter((n) => FILE_NAME.test(n) && CONTENT_TYPES[extname(n)]),
    () => [] as string[],
  );
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

export function registerConsolePage(app: FastifyInstance, { rendererDir }: { rendererDir: string }): void {
  let built: Promise<Built | null> | null = null;
  let checkedMtime = -1;

  /** The built page and its assets, read again whenever the HTML changes (a rebuild). */
  async function current(): Promise<Built | null> {
    const htmlFile = join(rendererDir, CONSOLE_HTML);
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
        return { html, assets: await reachable(join(rendererDir, 'assets'), html.toString('utf8')) };
      })().catch(() => null);
    }
    return built;
  }

  const strict = (reply: FastifyReply) =>
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cross-origin-opener-policy', 'same-origin');

  // Without the slash the page's relative ./assets/ would resolve at the root (the join page's assets).
  app.get(CONSOLE_PAGE_PATH.slice(0, -1), async (_request, reply) => reply.redirect(CONSOLE_PAGE_PATH, 308));

  app.get(CONSOLE_PAGE_PATH, async (_request, reply) => {
    const page = await current();
    if (!page) return reply.status(503).header('retry-after', '60').send(NOT_BUILT);
    return strict(reply).type('text/html; charset=utf-8').send(page.html);
  });

  app.get<{ Params: { file: string } }>(`${CONSOLE_PAGE_PATH}assets/:file`, async (request, reply) => {
    const page = await current();
    const name = request.params.file;
    if (!page || !FILE_NAME.test(name) || !page.assets.has(name)) return reply.status(404).send(NOT_FOUND);
    const body = await readFile(join(rendererDir, 'assets', name)).catch(() => null);
    if (!body) return reply.status(404).send(NOT_FOUND);
    return strict(reply).type(CONTENT_TYPES[extname(name)]!).send(body);
  });
}
