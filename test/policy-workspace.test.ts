/**
 * A theme forced by IT's machine policy (the root-owned policy file, read
 * from a scratch folder) wins over the clinician's stored theme through the
 * registry: workspace.get reports the forced value, workspace.set cannot
 * change it (nor store it as the clinician's choice), and an unmanaged
 * density stays the clinician's to change.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getWorkspace, setWorkspace } from '../electron/services/workspace-state';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import { createSettingsSurface } from '../electron/services/policy/effective-settings';
import type { CallOutput, WorkspaceState } from '../shared/contract';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { scratchDir } from './support/scratch';

let cache: TestCache;
const dir = scratchDir('policy');
before(async () => {
  cache = await openTestCache('dr.policy-workspace');
});
after(async () => {
  await cache.dispose();
  dir.remove();
});

test('a theme forced by policy beats the stored theme; workspace.set cannot change it; density stays the clinician\'s', async () => {
  await setWorkspace(cache.session, { theme: 'light', density: 'comfortable' });
  const folder = join(dir.path, 'clinician-desktop');
  mkdirSync(folder, { mode: 0o755 });
  const file = join(folder, 'policy.json');
  writeFileSync(file, JSON.stringify({ theme: 'dark' }));
  chmodSync(file, 0o644);
  const settings = createSettingsSurface({ policy: readLinuxPolicyFile(file), user: () => getWorkspace(cache.session) });
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.policy-workspace' }, undefined, { settings });
  const call = (name: 'workspace.get' | 'workspace.set' | 'settings.list', payload: unknown) =>
    dispatch(registry, name, payload, { url: 'app://clinician/index.html', isMainFrame: true }, { trustedOrigins: ['app://clinician'] });

  const got = await call('workspace.get', {});
  assert.ok(got.ok);
  const gotState = got.value as WorkspaceState;
  assert.deepEqual({ theme: gotState.theme, density: gotState.density }, { theme: 'dark', density: 'comfortable' });

  const set = await call('workspace.set', { theme: 'light', density: 'compact' });
  assert.ok(set.ok);
  const setState = set.value as WorkspaceState;
  assert.deepEqual({ theme: setState.theme, density: setState.density }, { theme: 'dark', density: 'compact' });
  // Stored: the clinician's own theme untouched, the density changed.
  const stored = await getWorkspace(cache.session);
  assert.deepEqual({ theme: stored.theme, density: stored.density }, { theme: 'light', density: 'compact' });

  const listed = await call('settings.list', {});
  assert.ok(listed.ok);
  const list = listed.value as CallOutput<'settings.list'>;
  const theme = list.settings.find((s) => s.name === 'theme')!;
  const density = list.settings.find((s) => s.name === 'density')!;
  assert.deepEqual([theme.value, theme.source, theme.managed], ['dark', 'policy', true]);
  assert.deepEqual([density.value, density.source, density.managed], ['compact', 'user', false]);
  assert.equal(list.policySource, file);
});
