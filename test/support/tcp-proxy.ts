/**
 * A TCP proxy on loopback that the tests control: forward, refuse (down),
 * or cut a share of connections after a random number of bytes in either
 * direction, so requests arrive half-sent and answers get lost.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  port: number;
  url: string;
  /** Share of connections (0..1) cut after a random number of bytes. */
  cutRate: number;
  /** The next this-many connections are cut for sure (at a random byte), then `cutRate` applies. */
  cutNext: number;
  down: boolean;
  cuts: number;
  /** Cuts every open connection now (the network just dropped). */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, random: () => number = Math.random): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const proxy: TcpProxy = { port: 0, url: '', cutRate: 0, cutNext: 0, down: false, cuts: 0, cutAll: () => undefined, close: async () => undefined };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (proxy.down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    const cut = proxy.cutNext > 0 || random() < proxy.cutRate;
    if (proxy.cutNext > 0) proxy.cutNext--;
    const cutUpstream = random() < 0.5;
    // Requests are larger than answers: cut within the first few of either.
    const cutAfter = Math.floor(random() * (cutUpstream ? 20_000 : 3_000));
    let forwarded = 0;
    const pipe = (from: Socket, to: Socket, direction: 'up' | 'down') => {
      from.on('data', (chunk: Buffer) => {
        if (cut && (direction === 'up') === cutUpstream) {
          if (forwarded + chunk.length > cutAfter) {
            to.write(chunk.subarray(0, Math.max(0, cutAfter - forwarded)));
            proxy.cuts++;
            client.destroy();
            upstream.destroy();
            return;
          }
          forwarded += chunk.length;
        }
        to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
    };
    pipe(client, upstream, 'up');
    pipe(upstream, client, 'down');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.port = (server.address() as { port: number }).port;
  proxy.url = `http://127.0.0.1:${proxy.port}/`;
  proxy.cutAll = () => {
    for (const s of sockets) s.destroy();
  };
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  };
  return proxy;
}
