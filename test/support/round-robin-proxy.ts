/**
 * A round-robin TCP load balancer on loopback, in front of several backend
 * instances: each new connection goes to the next instance in turn; an
 * instance that refuses the connection (down) is skipped, as a load
 * balancer's health check would, and the connection goes to the next one.
 * Records which instance took each connection. Test support only: loopback,
 * no TLS, bytes passed through untouched.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface RoundRobinProxy {
  url: string;
  /** For each connection accepted, in order: the index of the instance that took it (-1: none would). */
  readonly routed: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targetPorts: number[]): Promise<RoundRobinProxy> {
  const sockets = new Set<Socket>();
  const routed: number[] = [];
  let next = 0;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => client.destroy());
    const slot = routed.push(-1) - 1;
    const tryTarget = (tried: number) => {
      if (tried >= targetPorts.length) {
        client.destroy();
        return;
      }
      const index = next++ % targetPorts.length;
      const upstream = connect(targetPorts[index]!, '127.0.0.1');
      track(upstream);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        routed[slot] = index;
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.on('error', () => {
        if (!connected) tryTarget(tried + 1);
        else client.destroy();
      });
      upstream.on('close', () => {
        if (connected) client.destroy();
      });
      client.on('close', () => upstream.destroy());
    };
    tryTarget(0);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    routed,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
