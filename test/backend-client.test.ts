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
import { BackendClient, isSessionEnded } from '../electron/services/backend-client';
import { AppError } from '../shared/app-error';
import { freePort } from './support/backend-process';

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
};

for (const [name, code] of Object.entries(expected)) {
  test(`a server answering "${name}" gives ${code}`, async () => {
    const client = new BackendClient(`${base}/${name}/`, 1500);
    assert.equal(await codeOf(client.authOptions({ clinicianId: 'dr.ada' })), code);
  });
}

test('a closed port gives BACKEND_UNREACHABLE', async () => {
  const client = new BackendClient(`http://127.0.0.1:${await freePort()}/`, 1500);
  assert.equal(await codeOf(client.authOptions({ clinicianId: 'dr.ada' })), 'BACKEND_UNREACHABLE');
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
