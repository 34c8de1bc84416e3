/**
 * A real update server for the updater tests: node:http on 127.0.0.1, port 0,
 * serving whatever files a test puts in it (a latest*.yml, its .sig, an
 * installer), and recording every path asked for, so a test can assert that
 * nothing was downloaded after a refusal. Loopback only; never a real server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { generateUpdateKeyPair, signManifest, type UpdateKeyPair } from '../../build/update-signing/update-signing';

export interface ServedFile {
  body: Buffer;
  /** Leave out Content-Length and send the body chunked (a server that hides the size). */
  chunked?: boolean;
}

export interface UpdateServer {
  /** The folder URL the app's `updateUrl` points at. */
  url: string;
  files: Map<string, ServedFile>;
  /** Every path requested, in order. */
  requests: string[];
  put(name: string, body: Buffer | string, options?: { chunked?: boolean }): void;
  close(): Promise<void>;
}

export async function startUpdateServer(): Promise<UpdateServer> {
  const files = new Map<string, ServedFile>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname).replace(/^\/updates\//, '');
    requests.push(path);
    const file = files.get(path);
    if (!file) {
      res.writeHead(404).end();
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

/** electron-builder's latest-linux.yml for one installer, byte for byte in its layout. */
export function releaseManifest(version: string, installerName: string, installer: Buffer, extra: { stagingPercentage?: number } = {}): string {
  const sha512 = sha512Base64(installer);
  const lines = [
    `version: ${version}`,
    'files:',
    `  - url: ${installerName}`,
    `    sha512: ${sha512}`,
    `    size: ${installer.length}`,
    `path: ${installerName}`,
    `sha512: ${sha512}`,
    `releaseDate: '2026-11-20T10:00:00.000Z'`,
  ];
  if (extra.stagingPercentage !== undefined) lines.push(`stagingPercentage: ${extra.stagingPercentage}`);
  return `${lines.join('\n')}\n`;
}

/** Puts a signed release on the server: installer, manifest, signature (by `keys` unless another signer is given). */
export function publishRelease(server: UpdateServer, channelFile: string, manifest: string, privateKeyPem: string): void {
  server.put(channelFile, manifest);
  server.put(`${channelFile}.sig`, `${signManifest(Buffer.from(manifest), privateKeyPem)}\n`);
}
