/**
 * IT configuration: read from the machine-wide policy file through the
 * settings catalogue, validated, with environment overrides only in
 * development builds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { loadAppConfig, resolveAppConfig, updatePolicyOf } from '../electron/services/app-config';
import { readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import { AppError } from '../shared/app-error';
import { scratchDir } from './support/scratch';

const good = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };

function withPolicy(policy: unknown, fn: (file: string) => void) {
  const dir = scratchDir('policy');
  try {
    const file = join(dir.path, 'policy.json');
    writeFileSync(file, typeof policy === 'string' ? policy : JSON.stringify(policy));
    fn(file);
  } finally {
    dir.remove();
  }
}

const unconfigured = { consultScreenShare: false, updatesEnabled: true, updateUrl: null, updateTargetVersion: null };

test('reads a valid policy file', () => {
  withPolicy(good, (file) => assert.deepEqual(loadAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) }), { ...good, ...unconfigured }));
});

test('the update settings reach the update policy', () => {
  const policy = { ...good, updatesEnabled: false, updateUrl: 'https://updates.hospital.example/clinician/', updateTargetVersion: '1.4.2' };
  withPolicy(policy, (file) =>
    assert.deepEqual(updatePolicyOf(loadAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) })), {
      updatesEnabled: false,
      updateUrl: 'https://updates.hospital.example/clinician/',
      updateTargetVersion: '1.4.2',
    }),
  );
});

test('an unknown key is reported and ignored; the rest of the file is used', () => {
  withPolicy({ ...good, extra: true }, (file) => {
    const { config, problems } = resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) });
    assert.equal(config.backendUrl, good.backendUrl);
    assert.ok(problems.some((p) => /unknown setting "extra"/.test(p)), problems.join('\n'));
  });
});

test('refuses plain http to a remote backend, an origin outside the passkey domain, junk and unknown keys', () => {
  const bad: unknown[] = [
    { ...good, backendUrl: 'http://api.hospital.example/' },
    { ...good, appOrigin: 'https://clinician.evil.example' },
    { ...good, appOrigin: 'http://clinician.hospital.example' },
    { ...good, appOrigin: 'https://clinician.hospital.example/app/' },
    { backendUrl: good.backendUrl },
    'not json',
  ];
  for (const policy of bad) {
    withPolicy(policy, (file) =>
      assert.throws(
        () => loadAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) }),
        (e: unknown) => e instanceof AppError && /IT sets this in /.test(e.message) && e.message.includes(file) && !e.message.includes('evil') && !e.message.includes('http://api'),
      ),
    );
  }
});

test('environment variables override only in development builds (a compiled-in flag, not app.isPackaged)', () => {
  const env = { CLINICIAN_BACKEND_URL: 'http://127.0.0.1:8787/', CLINICIAN_APP_ORIGIN: 'https://app.evil.example', CLINICIAN_RP_ID: 'evil.example', CLINICIAN_DATA_DIR: '/tmp/elsewhere' };
  withPolicy(good, (file) => {
    const dev = loadAppConfig({ platform: 'linux', env, developmentBuild: true, policy: readLinuxPolicyFile(file) });
    assert.deepEqual([dev.backendUrl, dev.appOrigin, dev.rpId, dev.dataDir], ['http://127.0.0.1:8787/', 'https://app.evil.example', 'evil.example', '/tmp/elsewhere']);
    assert.deepEqual(loadAppConfig({ platform: 'linux', env, developmentBuild: false, policy: readLinuxPolicyFile(file) }), { ...good, ...unconfigured });
  });
});

test('a release build without a policy file refuses to start; a development build has loopback defaults', () => {
  const missing = join(tmpdir(), `absent-policy-${randomUUID()}.json`);
  assert.throws(() => loadAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(missing) }), (e: unknown) => e instanceof AppError);
  assert.equal(loadAppConfig({ platform: 'linux', env: {}, developmentBuild: true, policy: readLinuxPolicyFile(missing) }).backendUrl, 'http://127.0.0.1:8787/');
});

test('a required setting refused names the setting and the source', () => {
  withPolicy({ ...good, backendUrl: 'http://api.hospital.example/' }, (file) =>
    assert.throws(
      () => loadAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) }),
      (e: unknown) => e instanceof AppError && /Backend server \(backendUrl\) must be an https URL/.test(e.message) && e.message.includes(file),
    ),
  );
});
