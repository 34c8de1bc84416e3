/**
 * A real update server for the updater tests: node:http on 127.0.0.1, port 0,
 * serving whatever files a test puts in it (a latest*.yml, its .sig, an
 * installer), and recording every path asked for, so a test can assert that
 * nothing was downloaded after a refusal. Loopback only; never a real server.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { generateUpdateKeyPair, signManifest, type UpdateKeyPair } from '../../build/update-signing/update-signing';

export interface ServedFile {
  body: Buffer;
  /** Leave out Content-Length and send the body chunked (a server that hides the size). */
  chunked?: boolean;
  /** A hostile server's own response (an endless body, a drip that stalls); replaces body. */
  respond?: (res: ServerResponse) => void;
}

export interface UpdateServer {
  /** The folder URL the app's `updateUrl` points at. */
  url: string;
  files: Map<string, ServedFile>;
  /** Every path requested, in order. */
  requests: string[];
  put(name: string, body: Buffer | string, options?: { chunked?: boolean }): void;
  /** Serve `name` with a hostile handler of the test's own. */
  serve(name: string, respond: (res: ServerResponse) => void): void;
  /** Resolves when `name` is requested (now, if it already was). */
  requested(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startUpdateServer(): Promise<UpdateServer> {
  const files = new Map<string, ServedFile>();
  const requests: string[] = [];
  const waiters: { name: string; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname).replace(/^\/updates\//, '');
    requests.push(path);
    for (const waiter of waiters.filter((w) => w.name === path)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    const file = files.get(path);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    if (file.respond) {
      file.respond(res);
      return;
    }
    if (file.chunked) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < file.body.length; i += 8192) res.write(file.body.subarray(i, i + 8192));
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.body.length }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/updates/`,
    files,
    requests,
    put(name, body, options) {
      files.set(name, { body: Buffer.isBuffer(body) ? body : Buffer.from(body), chunked: options?.chunked });
    },
    serve(name, respond) {
      files.set(name, { body: Buffer.alloc(0), respond });
    },
    requested(name) {
      if (requests.includes(name)) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ name, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A throwaway release key pair, made per test run; never one from outside the test. */
export function throwawayUpdateKeys(): UpdateKeyPair {
  return generateUpdateKeyPair();
}

export function sha512Base64(body: Buffer): string {
  return createHash('sha512').update(body).digest('base64');
}

export interface ManifestExtra {
  stagingPercentage?: number;
  /** The signed size, when a test lies about it (default: the installer's length). */
  size?: number;
  /** electron-builder's releaseDate (default: now), the signing time the app checks. */
  releaseDate?: Date;
}

/** electron-builder's latest-linux.yml for one installer, byte for byte in its layout. */
export function releaseManifest(version: string, installerName: string, installer: Buffer, extra: ManifestExtra = {}): string {
  const sha512 = sha512Base64(installer);
  const lines = [
    `version: ${version}`,
    'files:',
    `  - url: ${installerName}`,
    `    sha512: ${sha512}`,
    `    size: ${extra.size ?? installer.length}`,
    `path: ${installerName}`,
    `sha512: ${sha512}`,
    `releaseDate: '${(extra.releaseDate ?? new Date()).toISOString()}'`,
  ];
  if (extra.stagingPercentage !== undefined) lines.push(`stagingPercentage: ${extra.stagingPercentage}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Puts a signed manifest on the server as `channelFile`, with its signature.
 * `signedAs`: the channel file name it was signed for, when a test serves a
 * manifest signed for another channel (default: channelFile).
 */
export function publishRelease(server: UpdateServer, channelFile: string, manifest: string, privateKeyPem: string, signedAs = channelFile): void {
  server.put(channelFile, manifest);
  server.put(`${channelFile}.sig`, `${signManifest(Buffer.from(manifest), privateKeyPem, signedAs)}\n`);
}
