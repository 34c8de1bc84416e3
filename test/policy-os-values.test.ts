/**
 * How the Windows (registry) and macOS (forced managed preferences) readers
 * turn what @vscode/policy-watcher hands back into policy values. The
 * library itself cannot run here (no registry, no CFPreferences): these are
 * the values it gives per type, read from its sources (REG_DWORD -> boolean,
 * REG_QWORD -> number, REG_SZ -> string; plist boolean/integer/string).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { osPolicySourceName, parseOsPolicyValues, watcherPolicies } from '../electron/services/policy/os-policy-values';
import { createSettingsSurface } from '../electron/services/policy/effective-settings';
import { resolveAppConfig } from '../electron/services/app-config';
import { SETTINGS_CATALOGUE, WINDOWS_POLICY_KEY } from '../electron/services/policy/settings-catalogue';

const good = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };

test('every machine-policy setting is registered with the library as a union, so a value of the wrong type still arrives', () => {
  const policies = watcherPolicies();
  assert.deepEqual(Object.keys(policies).sort(), SETTINGS_CATALOGUE.filter((s) => s.from.includes('policy')).map((s) => s.name).sort());
  for (const p of Object.values(policies)) assert.deepEqual([...p.type], ['boolean', 'number', 'string']);
});

test('Windows: REG_DWORD booleans and REG_SZ strings are used; unset policies are absent', () => {
  const { values, invalid } = parseOsPolicyValues('win32', { ...good, consultScreenShare: true, updatesEnabled: false, theme: 'dark', density: undefined });
  assert.deepEqual(values, { ...good, consultScreenShare: true, updatesEnabled: false, theme: 'dark' });
  assert.deepEqual(invalid, {});
});

test('Windows: a string "true" in a DWORD policy, a DWORD in a text policy and a QWORD in a boolean policy are reported; the safest value is used', async () => {
  const { values, invalid } = parseOsPolicyValues('win32', { ...good, consultScreenShare: 'true', updateUrl: true, updatesEnabled: 0 });
  assert.deepEqual(values, good);
  assert.equal(invalid.consultScreenShare, 'Screen sharing in consultations (consultScreenShare) is stored as text (REG_SZ); it must be On or Off: a REG_DWORD of 1 or 0');
  assert.equal(invalid.updateUrl, 'Update server (updateUrl) is stored as an on/off number (REG_DWORD); it must be text (REG_SZ)');
  assert.equal(invalid.updatesEnabled, 'Automatic updates (updatesEnabled) is stored as a large number (REG_QWORD); it must be On or Off: a REG_DWORD of 1 or 0');
  const policy = { values, invalid, source: osPolicySourceName('win32', WINDOWS_POLICY_KEY), present: true, problems: [] };
  const { config } = resolveAppConfig({ platform: 'win32', env: {}, developmentBuild: false, policy });
  assert.equal(config.consultScreenShare, false);
  assert.equal(config.updatesEnabled, true);
  assert.equal(config.updateUrl, null);
  const list = await createSettingsSurface({ policy }).list();
  assert.equal(list.policySource, 'Windows Group Policy (HKLM\\Software\\Policies\\ClinicianDesktopProject\\ClinicianDesktop)');
  const share = list.settings.find((s) => s.name === 'consultScreenShare')!;
  assert.deepEqual([share.value, share.managed, share.source], [false, true, 'policy']);
  assert.match(share.problem!, /\(REG_SZ\); it must be On or Off: a REG_DWORD of 1 or 0; the safest value is used\.$/);
});

test('Windows: an out-of-range or malformed REG_SZ is reported by the catalogue check without echoing it', async () => {
  const { values, invalid } = parseOsPolicyValues('win32', { ...good, theme: 'neon', updateTargetVersion: 'v1?token=secret' });
  assert.deepEqual(invalid, {});
  const policy = { values, invalid, source: 'Windows Group Policy', present: true, problems: [] };
  const byName = new Map((await createSettingsSurface({ policy }).list()).settings.map((s) => [s.name, s]));
  assert.equal(byName.get('theme')!.value, 'system');
  assert.match(byName.get('theme')!.problem!, /^Theme \(theme\) must be one of: Same as this computer \(system\), Light \(light\), Dark \(dark\); the safest/);
  assert.equal(byName.get('updateTargetVersion')!.value, null);
  assert.ok(!byName.get('updateTargetVersion')!.problem!.includes('secret'));
});

test('a required setting stored with the wrong registry type stops the app naming the setting and Group Policy', () => {
  const { values, invalid } = parseOsPolicyValues('win32', { ...good, backendUrl: 1 });
  const policy = { values, invalid, source: osPolicySourceName('win32', WINDOWS_POLICY_KEY), present: true, problems: [] };
  assert.throws(() => resolveAppConfig({ platform: 'win32', env: {}, developmentBuild: false, policy }), /Backend server \(backendUrl\) is stored as a large number \(REG_QWORD\); it must be text \(REG_SZ\)\. IT sets this in Windows Group Policy/);
});

test('macOS: plist booleans and strings are used; a string "true" for a boolean and a number for a text setting are reported', () => {
  const { values, invalid } = parseOsPolicyValues('darwin', { ...good, updatesEnabled: false, consultScreenShare: 'true', dataDir: 42, density: 'compact' });
  assert.deepEqual(values, { ...good, updatesEnabled: false, density: 'compact' });
  assert.equal(invalid.consultScreenShare, 'Screen sharing in consultations (consultScreenShare) is stored as text (a <string>); it must be On or Off (<true/> or <false/>)');
  assert.equal(invalid.dataDir, 'Cache folder (dataDir) is stored as a number (an <integer> or <real>); it must be text (a <string>)');
  assert.equal(osPolicySourceName('darwin', 'org.clinician-desktop.app'), 'macOS managed preferences (org.clinician-desktop.app)');
});
