/**
 * The test support's backend process (test/support/backend-process.ts) when
 * the port it chose is taken before the backend binds it, as another test
 * file running beside it can: the first start moves to another free port and
 * answers there, instead of failing the whole file with EADDRINUSE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startBackend } from './support/backend-process';
import { scratchDir } from './support/scratch';

test('a port taken before the first start: the backend starts on another and answers there', async () => {
  const squatter = createServer();
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const taken = (squatter.address() as { port: number }).port;
  const dir = scratchDir('backend-port');
  try {
    const backend = await startBackend({ dataDir: join(dir.path, 'data'), origins: ['http://localhost'], bundles: [], port: taken });
    try {
      assert.notEqual(backend.port, taken);
      assert.equal(backend.url, `http://127.0.0.1:${backend.port}`);
      const health = await fetch(`${backend.url}/healthz`);
      assert.equal(health.status, 200, 'the backend answers on its new port');
    } finally {
      await backend.dispose();
    }
  } finally {
    squatter.close();
    dir.remove();
  }
});
