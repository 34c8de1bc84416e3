/**
 * Main's backend client against hostile servers on loopback: HTML error
 * pages, wrong schemas, oversized bodies, a connection cut mid-answer, a
 * slow-loris server and a closed port each become a typed error, never an
 * exception with server text and never state.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { BackendClient, isSessionEnded, NotReachedError, REQUEST_TIMEOUT_MS, type FetchFunction } from '../electron/services/backend-client';
import { AppError } from '../shared/app-error';
import { freePort, startBackend } from './support/backend-process';
import { scratchDir } from './support/scratch';

type Behaviour = (res: ServerResponse) => void;
const behaviours: Record<string, Behaviour> = {
  html500: (res) => res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>Internal Server Error</body></html>'),
  html200: (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login portal</html>'),
  wrongSchema: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ options: { challenge: 42 } })),
  extraNesting: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ options: { challenge: 'abc', allowCredentials: 'all' } })),
  huge: (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ options: { challenge: 'a'.repeat(3 * 1024 * 1024) } }));
  },
  cutMidway: (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"options": {"chall');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  slowLoris: (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(timer));
  },
  errorWithPhiLikeText: (res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'WEIRD', message: 'Patient Bibi254 Schowalter414 not found' } })),
  revoked: (res) => res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'DEVICE_REVOKED', message: 'x' } })),
  sessionInvalid: (res) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'SESSION_INVALID', message: 'x' } })),
  busy: (res) => res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' }).end(JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'Too many attempts. Wait a minute and try again.' } })),
  loggedOut: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ended: true })),
  redirect: (res) => res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end(),
};

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => behaviours[req.url!.split('/')[1]!]!(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    assert.ok(err instanceof AppError, 'a typed error');
    assert.doesNotMatch(err.message, /Bibi254|<html|login portal/i, 'no server text is passed on');
    return err.code;
  }
}

const expected: Record<string, string> = {
  html500: 'BACKEND_FAILED',
  html200: 'BACKEND_INVALID_RESPONSE',
  wrongSchema: 'BACKEND_INVALID_RESPONSE',
  extraNesting: 'BACKEND_INVALID_RESPONSE',
  huge: 'BACKEND_INVALID_RESPONSE',
  cutMidway: 'BACKEND_UNREACHABLE',
  slowLoris: 'BACKEND_UNREACHABLE',
  errorWithPhiLikeText: 'SIGN_IN_REFUSED',
  revoked: 'DEVICE_REVOKED',
  sessionInvalid: 'SIGN_IN_REFUSED',
  busy: 'BACKEND_UNREACHABLE',
  redirect: 'BACKEND_UNREACHABLE',
};

for (const [name, code] of Object.entries(expected)) {
  test(`a server answering "${name}" gives ${code}`, async () => {
    const client = new BackendClient(`${base}/${name}/`, 1500);
    assert.equal(await codeOf(client.authOptions({ clinicianId: 'dr.ada' })), code);
  });
}

test('a closed port gives BACKEND_UNREACHABLE, known not to have reached the backend (Node fetch\'s ECONNREFUSED)', async () => {
  const client = new BackendClient(`http://127.0.0.1:${await freePort()}/`, 1500);
  assert.equal(await codeOf(client.authOptions({ clinicianId: 'dr.ada' })), 'BACKEND_UNREACHABLE');
  await assert.rejects(client.authOptions({ clinicianId: 'dr.ada' }), (e: unknown) => e instanceof NotReachedError);
});

test('an ended session (401 SESSION_INVALID) is told apart from a revocation: nothing to wipe, sign in again', async () => {
  const ended = new BackendClient(`${base}/sessionInvalid/`, 1500);
  await assert.rejects(ended.me('token'), (e: unknown) => isSessionEnded(e) && e.code === 'SIGN_IN_REFUSED' && /Sign in again/.test(e.message));
  const revoked = new BackendClient(`${base}/revoked/`, 1500);
  await assert.rejects(revoked.me('token'), (e: unknown) => e instanceof AppError && e.code === 'DEVICE_REVOKED' && !isSessionEnded(e));
});

test('logout never throws: a hostile, slow or absent server only makes it answer false', async () => {
  assert.equal(await new BackendClient(`${base}/loggedOut/`, 1500).logout('token'), true);
  for (const name of Object.keys(expected)) {
    assert.equal(await new BackendClient(`${base}/${name}/`, 1500).logout('token'), false, name);
  }
  assert.equal(await new BackendClient(`http://127.0.0.1:${await freePort()}/`, 1500).logout('token'), false);
});

test('a throttled sign-in (429 from the backend) is BACKEND_UNREACHABLE saying the server is busy, so sign-in falls back to offline unlock', async () => {
  const busy = new BackendClient(`${base}/busy/`, 1500);
  await assert.rejects(busy.authOptions({ clinicianId: 'dr.ada' }), (e: unknown) => e instanceof AppError && e.code === 'BACKEND_UNREACHABLE' && e.message === 'The hospital server is busy. You can keep working offline.');
});

// ---- Issue 12, item 5: the client sends through an injected fetch (Electron's net.fetch in the app). ----

/** Every public method of the client that talks to the backend, each called once with throwaway arguments. */
const EVERY_CALL: Record<string, (c: BackendClient) => Promise<unknown>> = {
  enrollOptions: (c) => c.enrollOptions({} as never),
  enrollVerify: (c) => c.enrollVerify({} as never),
  authOptions: (c) => c.authOptions({ clinicianId: 'dr.ada' }),
  authVerify: (c) => c.authVerify({} as never),
  deviceOptions: (c) => c.deviceOptions({} as never),
  deviceVerify: (c) => c.deviceVerify({} as never),
  me: (c) => c.me('not-a-token'),
  revokeDevice: (c) => c.revokeDevice('not-a-token', 'device-1'),
  logout: (c) => c.logout('not-a-token'),
  push: (c) => c.push('not-a-token', []),
  uploadAudit: (c) => c.uploadAudit('not-a-token', {} as never),
  auditHead: (c) => c.auditHead('not-a-token'),
  auditReceiptKey: (c) => c.auditReceiptKey('not-a-token'),
  healthy: (c) => c.healthy(),
  startCall: (c) => c.startCall('not-a-token', {} as never),
  inviteToCall: (c) => c.inviteToCall('not-a-token', 'call-1', {} as never),
  invitedCalls: (c) => c.invitedCalls('not-a-token'),
  pullAnswer: (c) => c.pullAnswer('not-a-token', null).then((decode) => decode()),
  glassSearch: (c) => c.glassSearch('not-a-token', 'Smith'),
  glassGrant: (c) => c.glassGrant('not-a-token', {} as never),
  glassGrants: (c) => c.glassGrants('not-a-token'),
  glassRecords: (c) => c.glassRecords('not-a-token', 'patient-1', null),
};

test('every backend call goes through the injected fetch (a recording wrapper around Node\'s fetch, against the real backend on loopback), with the same safety options', async () => {
  const methods = Object.getOwnPropertyNames(BackendClient.prototype).filter((n) => !['constructor', 'request', 'answer', 'decode', 'serverTime'].includes(n));
  assert.deepEqual([...methods].sort(), Object.keys(EVERY_CALL).sort(), 'the test calls every method the client has');
  const dir = scratchDir('net-fetch');
  const backend = await startBackend({ dataDir: dir.path, origins: ['http://localhost'], bundles: [] });
  const realFetch = globalThis.fetch;
  const seen: { method: string; url: string; init: RequestInit; inputType: string }[] = [];
  const recording: FetchFunction = (input, init) => {
    seen.push({ method: String(init.method), url: input, init, inputType: typeof input });
    return realFetch(input, init);
  };
  // Anything that went around the injected fetch to the global one fails loudly.
  globalThis.fetch = (() => Promise.reject(new Error('the global fetch was used'))) as typeof fetch;
  try {
    const client = new BackendClient(`${backend.url}/`, 5000, recording);
    assert.equal(client.serverTime(), null);
    const outcomes: Record<string, string> = {};
    for (const [name, call] of Object.entries(EVERY_CALL)) {
      const before = seen.length;
      try {
        await call(client);
        outcomes[name] = 'ok';
      } catch (err) {
        assert.ok(err instanceof AppError, `${name}: a typed error`);
        assert.notEqual(err.code, 'BACKEND_UNREACHABLE', `${name}: the backend answered through the wrapper`);
        outcomes[name] = err.code;
      }
      assert.equal(seen.length, before + 1, `${name} made exactly one request, through the injected fetch`);
      const last = seen[seen.length - 1]!;
      assert.equal(last.inputType, 'string', 'a URL string (net.fetch takes no URL object)');
      assert.ok(last.url.startsWith(`${backend.url}/`), `${name}: to the backend`);
      assert.equal(last.init.redirect, 'error');
      assert.equal(last.init.credentials, 'omit', 'no cookie jar');
      assert.equal(last.init.cache, 'no-store', 'no disk cache of answers');
      assert.ok(last.init.signal instanceof AbortSignal, 'a timeout signal');
    }
    // Real answers from the real backend came back through the wrapper.
    assert.equal(outcomes.healthy, 'ok');
    assert.equal(outcomes.me, 'SIGN_IN_REFUSED');
    assert.equal(outcomes.logout, 'ok', 'logout never throws');
    const serverTime = client.serverTime();
    assert.ok(serverTime !== null && Math.abs(serverTime - Date.now()) < 60_000, 'the Date header was read from the wrapped answers');
  } finally {
    globalThis.fetch = realFetch;
    await backend.dispose();
    dir.remove();
  }
});

test('the default fetch is Node\'s own, looked up when a request is made', async () => {
  const realFetch = globalThis.fetch;
  let used = 0;
  globalThis.fetch = ((input: string, init: RequestInit) => {
    used++;
    return realFetch(input, init);
  }) as typeof fetch;
  try {
    await new BackendClient(`${base}/loggedOut/`, 1500).logout('token');
    assert.equal(used, 1);
    assert.equal(REQUEST_TIMEOUT_MS, 10_000);
  } finally {
    globalThis.fetch = realFetch;
  }
});

/**
 * Electron's net.fetch cannot run here (no Electron binary): these are the
 * rejections it produces, as its source makes them (lib/common/api/
 * net-client-request.ts: `new Error(netErrorString)` for a Chromium net error,
 * `new Error("Attempted to redirect, but redirect policy was 'error'")` for a
 * redirect; lib/browser/api/net-fetch.ts: the signal's reason on abort). A
 * stand-in fetch rejects with each, and the client classifies it.
 */
function rejectingWith(err: unknown): FetchFunction {
  return () => Promise.reject(err);
}

const netFetchNotReached = [
  'net::ERR_CONNECTION_REFUSED',
  'net::ERR_NAME_NOT_RESOLVED',
  'net::ERR_NAME_RESOLUTION_FAILED',
  'net::ERR_ADDRESS_UNREACHABLE',
  'net::ERR_INTERNET_DISCONNECTED',
  'net::ERR_CONNECTION_TIMED_OUT',
  'net::ERR_PROXY_CONNECTION_FAILED',
];
const netFetchMaybeReached = ['net::ERR_CONNECTION_RESET', 'net::ERR_CONNECTION_CLOSED', 'net::ERR_EMPTY_RESPONSE', 'net::ERR_TIMED_OUT', 'net::ERR_CERT_AUTHORITY_INVALID', 'net::ERR_FAILED'];

for (const message of netFetchNotReached) {
  test(`net.fetch's "${message}" is NotReachedError: nothing reached the backend, so a push is given back`, async () => {
    const client = new BackendClient('https://backend.invalid/', 1500, rejectingWith(new Error(message)));
    await assert.rejects(client.push('token', []), (e: unknown) => e instanceof NotReachedError && e.code === 'BACKEND_UNREACHABLE' && !e.message.includes('net::'));
  });
}

for (const message of netFetchMaybeReached) {
  test(`net.fetch's "${message}" is BACKEND_UNREACHABLE but not NotReachedError: the request may have reached the backend`, async () => {
    const client = new BackendClient('https://backend.invalid/', 1500, rejectingWith(new Error(message)));
    await assert.rejects(client.push('token', []), (e: unknown) => e instanceof AppError && e.code === 'BACKEND_UNREACHABLE' && !(e instanceof NotReachedError) && !e.message.includes('net::'));
  });
}

test('net.fetch\'s redirect refusal and its timeout (the signal\'s reason) are BACKEND_UNREACHABLE, not NotReachedError', async () => {
  const redirect = new BackendClient('https://backend.invalid/', 1500, rejectingWith(new Error("Attempted to redirect, but redirect policy was 'error'")));
  await assert.rejects(redirect.me('token'), (e: unknown) => e instanceof AppError && e.code === 'BACKEND_UNREACHABLE' && !(e instanceof NotReachedError));
  const timeout = new BackendClient('https://backend.invalid/', 1500, rejectingWith(new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
  await assert.rejects(timeout.me('token'), (e: unknown) => e instanceof AppError && e.code === 'BACKEND_UNREACHABLE' && !(e instanceof NotReachedError));
  // A message that merely mentions a net error is not one.
  const lookalike = new BackendClient('https://backend.invalid/', 1500, rejectingWith(new Error('proxy said: net::ERR_CONNECTION_REFUSED')));
  await assert.rejects(lookalike.me('token'), (e: unknown) => e instanceof AppError && !(e instanceof NotReachedError));
});

test('a push of changes read from the outbox carries each resource as the cache stored it: the body is the JSON of the same changes with their resources parsed, whatever their fields hold', async () => {
  const bodies: string[] = [];
  const recording: FetchFunction = async (_input, init) => {
    bodies.push(String(init.body));
    return new Response(JSON.stringify({ results: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const client = new BackendClient('http://127.0.0.1:9/', 5000, recording);
  const resource = { resourceType: 'Observation', id: 'o-1', note: [{ text: 'quote " backslash \\ newline \n unicode \u2028 é' }], valueQuantity: { value: 61.5 } };
  const stored = { idempotencyKey: '01a21f57-3c23-75f0-89cf-312e7a8b4689', resourceType: 'Observation', id: 'o-1', baseVersion: '3', resourceJson: JSON.stringify(resource) };
  const created = { idempotencyKey: '01a21f57-3c24-753e-acec-5d69aa979f73', resourceType: 'Patient', id: 'p"1', baseVersion: null, resourceJson: JSON.stringify({ resourceType: 'Patient', id: 'p"1' }) };
  const asObject = { idempotencyKey: '01a21f57-3c25-753e-acec-5d69aa979f73', resourceType: 'Patient', id: 'p2', baseVersion: null, resource: { resourceType: 'Patient', id: 'p2' } };
  await client.push('token', [stored, created, asObject]);
  assert.deepEqual(JSON.parse(bodies[0]!), {
    changes: [
      { idempotencyKey: stored.idempotencyKey, resourceType: 'Observation', id: 'o-1', baseVersion: '3', resource },
      { idempotencyKey: created.idempotencyKey, resourceType: 'Patient', id: 'p"1', baseVersion: null, resource: { resourceType: 'Patient', id: 'p"1' } },
      asObject,
    ],
  });
});
