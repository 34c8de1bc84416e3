/**
 * A hostile signaling relay for the attack tests: an HTTP server on
 * 127.0.0.1 that serves the backend's join page (forwarding GETs) and
 * relays its WebSocket to the backend's, passing every text message through
 * a rewrite hook first, as a man in the middle who runs (or broke into) the
 * signaling server could. Test-only; it never logs the messages it sees.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { SIGNALING_PATH } from '../../shared/consult/signaling-messages';

/** May answer later (a promise): messages still leave in the order they came, each direction on its own. */
export type Rewrite = (direction: 'to-server' | 'to-client', message: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface SignalingProxy {
  /** http://127.0.0.1:port: open join links on this origin. */
  origin: string;
  /** Messages rewritten so far (the hook returned a different object). */
  rewritten: number;
  close(): Promise<void>;
}

export async function startSignalingProxy(backendUrl: string, rewrite: Rewrite): Promise<SignalingProxy> {
  const sockets = new Set<WebSocket>();
  const proxy: SignalingProxy = { origin: '', rewritten: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    void fetch(backendUrl + (req.url ?? '/'), { method: 'GET' }).then(
      async (answer) => {
        const headers: Record<string, string> = {};
        answer.headers.forEach((value, key) => {
          if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(key)) headers[key] = value;
        });
        res.writeHead(answer.status, headers);
        res.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== SIGNALING_PATH) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (client) => {
      // The relay presents the backend's own origin, as a man in the middle can.
      const upstream = new WebSocket(backendUrl.replace(/^http/, 'ws') + SIGNALING_PATH, { origin: backendUrl });
      sockets.add(client);
      sockets.add(upstream);
      const early: string[] = [];
      const pass = async (direction: 'to-server' | 'to-client', text: string): Promise<string> => {
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(text) as Record<string, unknown>;
        } catch {
          return text;
        }
        const before = JSON.stringify(message);
        const after = JSON.stringify(await rewrite(direction, message));
        if (after !== before) proxy.rewritten++;
        return after;
      };
      let toServer = Promise.resolve();
      let toClient = Promise.resolve();
      client.on('message', (data) => {
        const raw = data.toString();
        toServer = toServer.then(async () => {
          const text = await pass('to-server', raw);
          if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
          else early.push(text);
        }).catch(() => end());
      });
      upstream.on('open', () => void toServer.then(() => early.splice(0).forEach((t) => upstream.send(t))));
      upstream.on('message', (data) => {
        const raw = data.toString();
        toClient = toClient.then(async () => {
          const text = await pass('to-client', raw);
          if (client.readyState === WebSocket.OPEN) client.send(text);
        }).catch(() => end());
      });
      const end = () => {
        client.close();
        upstream.close();
      };
      client.on('close', end);
      upstream.on('close', end);
      upstream.on('error', end);
      client.on('error', end);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = async () => {
    for (const s of sockets) s.terminate();
    wss.close();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}
