/**
 * What the settings screen (settings.list) may show of IT's values: URLs
 * without credentials, query or fragment; a URL with credentials in it is
 * refused as a value (reported without echoing it); an unknown policy key
 * is named only when it looks like a setting name.
 */
import { test } from 'node:test';
import { z } from 'zod';
import assert from 'node:assert/strict';
import { createSettingsSurface } from '../electron/services/policy/effective-settings';
import { checkSettingValue, SETTINGS_CATALOGUE, settingDefinition } from '../electron/services/policy/settings-catalogue';
import { resolveAppConfig } from '../electron/services/app-config';
import { readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import type { PolicyReading } from '../electron/services/policy/policy-reader';
import { AppError } from '../shared/app-error';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from './support/scratch';

const good = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };
const reading = (values: Record<string, unknown>): PolicyReading => ({ values, source: 'test policy', present: true, problems: [] });
const SECRETS = ['S3cret', 'svc', 'abc', 'token', 'frag'];

function assertNoSecret(text: string) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${s} leaked: ${text}`);
}

test('an update URL with user:password@ is refused, reported without echoing it, and never listed', async () => {
  for (const updateUrl of ['https://svc:S3cret@updates.example/feed?token=abc', 'https://svc@updates.example/feed', 'https://:S3cret@updates.example/feed']) {
    const policy = reading({ ...good, updateUrl });
    const { config, problems } = resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy });
    assert.equal(config.updateUrl, null, updateUrl);
    const listed = await createSettingsSurface({ policy }).list();
    const view = listed.settings.find((s) => s.name === 'updateUrl')!;
    assert.equal(view.value, null);
    assert.equal(view.managed, true);
    assert.match(view.problem ?? '', /^Update server \(updateUrl\) must not hold a user name or password; the safest value is used\.$/);
    assertNoSecret(JSON.stringify(listed));
    for (const p of problems) assertNoSecret(p);
  }
});

test('a backend URL or app origin with credentials stops the app without echoing them', () => {
  for (const bad of [{ backendUrl: 'https://svc:S3cret@api.hospital.example/' }, { appOrigin: 'https://svc:S3cret@clinician.hospital.example' }]) {
    const policy = reading({ ...good, ...bad });
    assert.throws(
      () => resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy }),
      (e: unknown) => e instanceof AppError && /must not hold a user name or password/.test(e.message) && !/S3cret|svc/.test(e.message),
    );
  }
});

test('a URL setting is listed as origin and path only: no query, no fragment', async () => {
  const policy = reading({ ...good, backendUrl: 'https://api.hospital.example/v1/?tenant=abc#frag', updateUrl: 'https://updates.hospital.example/feed/?token=abc#frag' });
  const { config } = resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy });
  // The app itself still uses the whole URL IT set.
  assert.equal(config.updateUrl, 'https://updates.hospital.example/feed/?token=abc#frag');
  const listed = await createSettingsSurface({ policy }).list();
  const byName = new Map(listed.settings.map((s) => [s.name, s]));
  assert.equal(byName.get('updateUrl')!.value, 'https://updates.hospital.example/feed/');
  assert.equal(byName.get('backendUrl')!.value, 'https://api.hospital.example/v1/');
  assert.equal(byName.get('appOrigin')!.value, 'https://clinician.hospital.example/');
  assertNoSecret(JSON.stringify(listed));
});

test('an unknown policy key is named only when it looks like a setting name', () => {
  const dir = scratchDir('policy');
  try {
    chmodSync(dir.path, 0o755);
    const file = join(dir.path, 'policy.json');
    const odd = ['https://svc:S3cret@x.example/?token=abc', 'a'.repeat(42), 'has space', '9lives', 'ünïcode', 'x\u202Eabc'];
    writeFileSync(file, JSON.stringify({ ...good, exportEnabled: true, 'my.setting_v2-x': 1, ...Object.fromEntries(odd.map((k) => [k, 1])) }));
    chmodSync(file, 0o644);
    const { problems } = readLinuxPolicyFile(file);
    assert.equal(problems.length, 2 + odd.length);
    assert.ok(problems.some((p) => p.includes('unknown setting "exportEnabled"')));
    assert.ok(problems.some((p) => p.includes('unknown setting "my.setting_v2-x"')));
    const anonymous = problems.filter((p) => p.includes('names an unknown setting;'));
    assert.equal(anonymous.length, odd.length);
    for (const p of problems) {
      assertNoSecret(p);
      assert.ok(!p.includes('aaaaaaaaaa') && !p.includes('space') && !p.includes('lives') && !p.includes('code') && !p.includes('\u202E'), p);
    }
  } finally {
    dir.remove();
  }
});

test('a refused value is named by its label with the policy name in brackets, in plain words: never a library message, never the value', async () => {
  const cases: Array<[string, unknown, string]> = [
    ['updatesEnabled', 'yes', 'Automatic updates (updatesEnabled) must be On or Off (true or false); it is text'],
    ['consultScreenShare', 1, 'Screen sharing in consultations (consultScreenShare) must be On or Off (true or false); it is a number'],
    ['theme', 'neon', 'Theme (theme) must be one of: Same as this computer (system), Light (light), Dark (dark)'],
    ['density', 3, 'Density (density) must be one of: Automatic (compact on short screens) (system), Comfortable (comfortable), Compact (compact); it is a number'],
    ['keychainAccessGroup', '', 'Keychain access group (macOS) (keychainAccessGroup) must not be empty'],
    ['backendUrl', null, 'Backend server (backendUrl) is empty (null)'],
    ['theme', null, 'Theme (theme) is empty (null)'],
    ['dataDir', 'relative/S3cret', 'Cache folder (dataDir) must be an absolute path'],
    ['rpId', 'Hospital.Example', 'Passkey domain (rpId) must be a lower-case domain name'],
    ['updateTargetVersion', 'latest?token=abc', 'Pinned version (updateTargetVersion) must be a semantic version such as 1.4.2'],
    ['appOrigin', 'https://clinician.hospital.example/app?token=abc', 'App origin (appOrigin) must be an https origin (no path)'],
    ['updateUrl', 'http://updates.hospital.example/', 'Update server (updateUrl) must be an https URL'],
    ['backendUrl', 'ftp://api.hospital.example/', 'Backend server (backendUrl) must be an https URL (plain http only on loopback)'],
    ['updateTargetVersion', 'x'.repeat(65), 'Pinned version (updateTargetVersion) is longer than 64 characters'],
    ['updateUrl', ['https://x.example/'], 'Update server (updateUrl) must be text; it is a list'],
  ];
  for (const [name, raw, words] of cases) {
    const checked = checkSettingValue(settingDefinition(name)!, raw);
    assert.deepEqual(checked, { ok: false, problem: words }, name);
    const view = (await createSettingsSurface({ policy: reading({ ...good, [name]: raw }) }).list()).settings.find((s) => s.name === name)!;
    assert.equal(view.problem, `${words}; the safest value is used.`, name);
  }
});

test('every bad value of every setting is worded by label and policy name, with no zod message and no echo of the value', () => {
  const bad: unknown[] = ['', ' ', 'S3cret-value', 'x'.repeat(2000), 'https://svc:S3cret@x.example/', 'http://S3cret.example/', 42, -1, 1.5, true, null, [], {}, ['S3cret'], { a: 'S3cret' }];
  for (const s of SETTINGS_CATALOGUE) {
    for (const raw of bad) {
      const checked = checkSettingValue(s, raw);
      if (checked.ok) continue;
      const p = checked.problem;
      assert.ok(p.startsWith(`${s.label} (${s.name}) `), p);
      assert.doesNotMatch(p, /Too (small|big)|expected|Invalid|>=|<=|received/i, p);
      assert.ok(!p.includes('S3cret') && !p.includes('xxxxxxxxxx'), p);
      assert.ok(p.length <= 250, p);
    }
  }
  // A library's own message (here zod's "Too small: …") is never passed on: the format in words stands for it.
  const strict = { ...settingDefinition('keychainAccessGroup')!, schema: z.string().min(5) } as Parameters<typeof checkSettingValue>[0];
  assert.deepEqual(checkSettingValue(strict, 'abc'), { ok: false, problem: 'Keychain access group (macOS) (keychainAccessGroup) must be text, at most 200 characters' });
});
