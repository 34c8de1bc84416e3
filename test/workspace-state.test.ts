/**
 * The workspace the clinician returns to (open chart, tab, theme, density)
 * is kept in the encrypted cache across closing and reopening it; it only
 * ever names a patient the cache holds. The access trail names clinicians by
 * the display names this computer has seen at sign-in, also after another
 * clinician signed in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { openChart, patientAccessTrail } from '../electron/services/patient-records';
import { getWorkspace, setWorkspace } from '../electron/services/workspace-state';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { createSettingsSurface } from '../electron/services/policy/effective-settings';
import type { SettingsSurface } from '../electron/services/app-surfaces';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const [alice, bob] = loadFixturePatients();
let cache: TestCache;

before(async () => {
  cache = await openTestCache('dr.workspace');
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[1]!));
});
after(() => cache.dispose());

test('defaults, then merged changes; the whole state comes back after the cache is closed and reopened', async () => {
  assert.deepEqual(await getWorkspace(cache.session), { openPatientId: null, tab: null, theme: 'system', density: 'system' });
  assert.deepEqual(await setWorkspace(cache.session, { openPatientId: alice!.id, tab: 'notes' }), { openPatientId: alice!.id, tab: 'notes', theme: 'system', density: 'system' });
  assert.deepEqual(await setWorkspace(cache.session, { theme: 'dark' }), { openPatientId: alice!.id, tab: 'notes', theme: 'dark', density: 'system' });
  await setWorkspace(cache.session, { density: 'compact', tab: 'write' });
  await cache.reopen();
  assert.deepEqual(await getWorkspace(cache.session), { openPatientId: alice!.id, tab: 'write', theme: 'dark', density: 'compact' });
  assert.deepEqual(await setWorkspace(cache.session, { openPatientId: null, tab: null }), { openPatientId: null, tab: null, theme: 'dark', density: 'compact' });
});

test('a patient not in the cache is refused and nothing changes; junk is refused by the contract', async () => {
  await setWorkspace(cache.session, { openPatientId: bob!.id, tab: 'summary' });
  const before = await getWorkspace(cache.session);
  await assert.rejects(
    setWorkspace(cache.session, { openPatientId: 'not-in-this-cache', tab: 'results' }),
    (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND',
  );
  assert.deepEqual(await getWorkspace(cache.session), before, 'the tab of the refused call was not kept either');
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.workspace' });
  const call = (payload: unknown) =>
    dispatch(registry, 'workspace.set', payload, { url: 'app://clinician/index.html', isMainFrame: true }, { trustedOrigins: ['app://clinician'] });
  for (const payload of [{ tab: 'billing' }, { theme: 'neon' }, { density: 2 }, { openPatientId: '../../x' }, { extra: true }]) {
    const r = await call(payload);
    assert.equal(r.ok, false, JSON.stringify(payload));
  }
  const refused = await call({ openPatientId: 'not-in-this-cache' });
  assert.equal(!refused.ok && refused.error.code, 'NOT_FOUND');
  assert.deepEqual(await getWorkspace(cache.session), before);
  const ok = await call({ tab: 'encounters' });
  assert.deepEqual(ok, { ok: true, value: { ...before, tab: 'encounters' } });
});

test('a stored chart whose patient left the cache is not reopened', async () => {
  await setWorkspace(cache.session, { openPatientId: bob!.id });
  // As a patient removed by hand would leave it, written beside the store through the test's own connection.
  (await cache.db()).prepare("UPDATE workspace_state SET value = 'gone-patient' WHERE key = 'openPatientId'").run();
  assert.equal((await getWorkspace(cache.session)).openPatientId, null);
});

test('workspace.set calls are written in the order they came, even when the settings the first one asks answer after the second call came', async () => {
  await setWorkspace(cache.session, { openPatientId: null, tab: null });
  // The app's settings surface (the clinician's choices read from the cache, as main does), its first list held until released.
  const inner = createSettingsSurface({ policy: { values: {}, source: 'none (test)', present: false, problems: [] }, user: () => getWorkspace(cache.session) });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let asked!: () => void;
  const firstAsked = new Promise<void>((r) => (asked = r));
  let lists = 0;
  const settings: SettingsSurface = {
    list: async () => {
      if (++lists === 1) {
        asked();
        await released;
      }
      return inner.list();
    },
  };
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.workspace' }, undefined, { settings });
  const call = (payload: unknown) =>
    dispatch(registry, 'workspace.set', payload, { url: 'app://clinician/index.html', isMainFrame: true }, { trustedOrigins: ['app://clinician'] });
  const first = call({ openPatientId: alice!.id, tab: 'notes' });
  await firstAsked;
  const second = call({ tab: 'results' });
  release();
  const [a, b] = await Promise.all([first, second]);
  assert.ok(a.ok && b.ok);
  assert.equal((b.value as { tab: string }).tab, 'results');
  const stored = await getWorkspace(cache.session);
  assert.deepEqual([stored.openPatientId, stored.tab], [alice!.id, 'results'], 'the later call wins');
});

test('the access trail names clinicians by the display names seen at sign-in on this computer', async () => {
  const keychain = testKeychain();
  const dir = scratchDir();
  const dataDir = join(dir.path, 'cache');
  const open = (actor: string, actorName: string | undefined, create: boolean): Promise<CacheSession> =>
    openCacheSession({ dataDir, secrets: keychain, actor, ...(actorName ? { actorName } : {}), create });
  try {
    let s = await open('dr.kim', 'Dr. Soo-jin Kim', true);
    await importBundle(s, readFileSync(SYNTHEA_FILES[0]!));
    await openChart(s, alice!.id);
    await s.close();
    s = await open('dr.lee', 'Dr. Ana Lee', false);
    await openChart(s, alice!.id);
    await s.close();
    // A session that does not know its clinician's name (a CLI): names still come from what was seen.
    s = await open('cli.admin', undefined, false);
    await openChart(s, alice!.id);
    const trail = await patientAccessTrail(s, alice!.id, 50);
    const named = new Map(trail.map((e) => [e.actor, e.actorName]));
    assert.equal(named.get('dr.kim'), 'Dr. Soo-jin Kim');
    assert.equal(named.get('dr.lee'), 'Dr. Ana Lee');
    assert.equal(named.get('cli.admin'), null, 'unknown names stay null: the id is shown');
    await s.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
