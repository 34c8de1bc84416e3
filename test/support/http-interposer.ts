/**
 * A real HTTP server on loopback in front of the real backend: every request
 * is forwarded as it came (headers, body), unless the test's handler answers
 * it itself or rewrites the backend's answer. For tests of what the desktop
 * does with answers a real server can give (a 5xx for one change, a replayed
 * page); the desktop's own client talks to it unchanged. Never a mock of the
 * client.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';

export interface Exchange {
  method: string;
  /** The path without the query. */
  path: string;
  url: string;
  body: Buffer;
}

export interface Answer {
  status: number;
  body: string;
  contentType?: string;
}

/** Answers one request: `forward()` sends it to the backend and returns the backend's answer. */
export type Handler = (exchange: Exchange, forward: () => Promise<Answer>) => Promise<Answer>;

export interface Interposer {
  url: string;
  /** The handler for the following requests; null forwards everything. */
  handle(handler: Handler | null): void;
  close(): Promise<void>;
}

function forwardTo(target: string, req: IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () =>
        resolve({ status: answer.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8'), contentType: answer.headers['content-type'] ?? 'application/json' }),
      );
      answer.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}

export async function startInterposer(target: string): Promise<Interposer> {
  let handler: Handler | null = null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const exchange: Exchange = { method: req.method ?? 'GET', path: req.url!.split('?')[0]!, url: req.url!, body };
      const forward = () => forwardTo(target, req, body);
      void (handler ? handler(exchange, forward) : forward()).then(
        (answer) => res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json' }).end(answer.body),
        () => res.socket?.destroy(),
      );
    });
  });
  // Idle kept-alive connections stay open until close(): a test that blocks its
  // event loop (a synchronous admin command) longer than Node's 5 s default
  // would otherwise have the interposer close a connection the client is
  // reusing, in the same turn, and the request lost.
  server.keepAliveTimeout = 0;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    handle(h) {
      handler = h;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
