/**
 * Every request main sends through Electron's net.fetch (the backend client,
 * the update-manifest check) carries `bypassCustomProtocolHandlers: true`:
 * the app serves its renderer by `protocol.handle('https', …)` on the default
 * session (electron/app-protocol.ts), which answers 403 'blocked' for any
 * other host, and net.fetch runs custom protocol handlers unless told to
 * bypass them. Every other option the caller gave reaches net.fetch unchanged.
 *
 * Stand-in: the Electron binary cannot run here, so a recording fetcher stands
 * in for Electron's net.fetch (it records the init it is given and passes the
 * request on to Node's fetch against a real loopback server); what is tested
 * is the init our code hands to net.fetch, not Chromium's handling of it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendFetchInit, netFetchThrough, type NetFetchInit } from '../electron/services/net-fetch-init';
import { BackendClient } from '../electron/services/backend-client';
import { ROOT } from './support/cache-cli';

test('the init handed to net.fetch bypasses custom protocol handlers and keeps every other option as given', () => {
  const controller = new AbortController();
  const headers = { accept: 'application/json', authorization: 'Bearer t' };
  const body = JSON.stringify({ a: 1 });
  const given: RequestInit = { method: 'POST', headers, body, signal: controller.signal, redirect: 'manual', credentials: 'omit', cache: 'no-store' };
  const before = { ...given };
  const init = backendFetchInit(given);
  assert.equal(init.bypassCustomProtocolHandlers, true);
  const { bypassCustomProtocolHandlers: _flag, ...rest } = init;
  assert.deepEqual(Object.keys(rest).sort(), Object.keys(given).sort());
  for (const key of Object.keys(given) as Array<keyof RequestInit>) assert.equal(rest[key], given[key], `${key} passes through as the same value`);
  assert.deepEqual(given, before, "the caller's init is not changed");
});

test('a caller cannot turn the bypass off, and an empty init still gets it', () => {
  const forced = backendFetchInit({ bypassCustomProtocolHandlers: false } as RequestInit);
  assert.equal(forced.bypassCustomProtocolHandlers, true);
  assert.deepEqual(backendFetchInit(undefined), { bypassCustomProtocolHandlers: true });
});

test("the backend client's requests reach the recording fetcher with the bypass and their own options", async () => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/healthz' ? JSON.stringify({ ok: true }) : '{}');
  }).listen(0, '127.0.0.1');
  after(() => server.close());
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const seen: Array<{ input: string; init: NetFetchInit }> = [];
  const recording = (input: string, init: NetFetchInit): Promise<Response> => {
    seen.push({ input, init });
    return globalThis.fetch(input, init);
  };
  const client = new BackendClient(`http://127.0.0.1:${port}/`, 5_000, netFetchThrough(recording));
  await client.healthy();
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.input, `http://127.0.0.1:${port}/healthz`);
  assert.equal(seen[0]!.init.bypassCustomProtocolHandlers, true);
  assert.equal(seen[0]!.init.method, 'GET');
  assert.ok(seen[0]!.init.signal instanceof AbortSignal, "the client's timeout signal reaches net.fetch");
});

test('the Electron glue hands net.fetch through netFetchThrough (the binary cannot run here, so its source is read)', () => {
  const glue = readFileSync(join(ROOT, 'electron', 'net-glue.ts'), 'utf8');
  const code = glue.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  assert.match(code, /netFetchThrough\(\s*\(?[^)]*\)?\s*=>\s*net\.fetch\(/, 'net.fetch is reached only through netFetchThrough');
  assert.equal(code.match(/net\.fetch\(/g)?.length, 1, 'no other net.fetch call in the glue');
});

test("electron-updater downloads the installer on its own session partition, not the default session the app's https handler is registered on", () => {
  // Electron registers a protocol handler on one session: `protocol.handle` is the default session's (docs: api/protocol.md,
  // "Using protocol with a custom partition or session"). The installed electron-updater's executor is read to pin its side.
  const executor = readFileSync(join(ROOT, 'node_modules', 'electron-updater', 'out', 'electronHttpExecutor.js'), 'utf8');
  assert.match(executor, /NET_SESSION_NAME = "electron-updater"/);
  assert.match(executor, /session\.fromPartition\(exports\.NET_SESSION_NAME/);
  assert.match(executor, /net\.request\(\{\s*\.\.\.options,\s*session: this\.cachedSession,?\s*\}\)/);
  const appProtocol = readFileSync(join(ROOT, 'electron', 'app-protocol.ts'), 'utf8');
  assert.match(appProtocol, /^\s*protocol\.handle\('https'/m, 'the https handler is on the default session (the protocol module)');
  assert.doesNotMatch(appProtocol, /fromPartition|\.protocol\.handle/, 'and on no other session');
});
