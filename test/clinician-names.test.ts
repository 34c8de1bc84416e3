/**
 * Clinicians by name, not id: after enrollment and after a later passkey
 * sign-in (the app's AuthService, a real backend process, Chromium's virtual
 * authenticator, gnome-keyring), the access trail shows the clinician's
 * display name as the backend gave it, and a note written here carries it as
 * its author.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { openChart, patientAccessTrail } from '../electron/services/patient-records';
import { saveNoteDraft } from '../electron/services/charting';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const dir = scratchDir('clinician-names');
const keychain = testKeychain();
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let d: PasskeyDesktop;
// The passkey's PRF output (the same at every sign-in): the keychain's keys are wrapped by it.
let prfOutput: Buffer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.names', '--name', 'Dr Nadia Names', '--assign-all']);
  const code = backend.admin(['enroll-code', 'dr.names']);
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
  const created = await d.createPasskey('dr.names', code);
  assert.ok(created.prfOutput, 'the authenticator gave a PRF output');
  prfOutput = Buffer.from(created.prfOutput, 'base64url');
  await d.auth.enrollFinish(created.response, created.prfOutput);
});

after(async () => {
  await d?.close();
  await browser?.close();
  await renderer?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

test('the access trail and new notes name the clinician by display name, after enrollment and after a later sign-in', async () => {
  let session = d.auth.session()!;
  // Looks go through the test's own connection to the cache file (the session's store runs in its worker).
  const patientId = (await inspectCache(session, keychain, prfOutput)).prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
  await openChart(session, patientId);
  assert.ok((await patientAccessTrail(session, patientId, 5)).every((e) => e.actor === 'dr.names' && e.actorName === 'Dr Nadia Names'));

  d.auth.lockNow('manual');
  const used = await d.usePasskey();
  await d.auth.signInFinish(used.response, used.prfOutput);
  session = d.auth.session()!;
  assert.equal(session.context.actorName, 'Dr Nadia Names');
  await openChart(session, patientId);
  const trail = await patientAccessTrail(session, patientId, 50);
  assert.ok(trail.length > 1);
  assert.ok(trail.every((e) => e.actorName === 'Dr Nadia Names'));

  const { noteId } = await saveNoteDraft(session, { patientId, subjective: 'Well', objective: '', assessment: '', plan: '' }, new Date());
  const note = JSON.parse((await inspectCache(session, keychain, prfOutput)).prepare("SELECT json FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(noteId) as string);
  assert.deepEqual(note.author, [{ display: 'Dr Nadia Names' }]);
});
