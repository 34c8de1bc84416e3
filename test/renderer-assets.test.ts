/**
 * How the app serves its renderer (app://clinician in Electron, localhost in
 * the browser tests): only files of the build, always with the CSP and
 * nosniff, never a path outside the build folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRendererAsset } from '../electron/services/renderer-assets';
import { CONTENT_SECURITY_POLICY } from '../shared/content-security-policy';
import { ROOT } from './support/cache-cli';

const DIST = join(ROOT, 'dist', 'renderer');

test('serves the built index with the CSP, nosniff and no caching', async () => {
  const a = await loadRendererAsset(DIST, '/');
  assert.equal(a.status, 200);
  assert.equal(a.headers['Content-Type'], 'text/html; charset=utf-8');
  assert.equal(a.headers['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-(inline|eval)/);
  assert.equal(a.headers['X-Content-Type-Options'], 'nosniff');
  assert.match(a.body.toString(), /http-equiv="Content-Security-Policy"/);
});

test('never serves a path outside the renderer build', async () => {
  for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/assets/../../electron/main.ts', '/%00index.html', '/%E0%A4%A', '/index.html\0.js', '/electron/main.ts']) {
    const a = await loadRendererAsset(DIST, path);
    assert.equal(a.status, 404, path);
    assert.equal(a.headers['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
  }
});
