/**
 * IT configuration: read from the machine-wide policy file, validated, with
 * environment overrides only in development builds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { loadAppConfig, policyFilePath } from '../electron/services/app-config';
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

test('reads a valid policy file', () => {
  withPolicy(good, (file) => assert.deepEqual(loadAppConfig({ platform: 'linux', env: {}, packaged: true, file }), good));
});

test('refuses plain http to a remote backend, an origin outside the passkey domain, junk and unknown keys', () => {
  const bad: unknown[] = [
    { ...good, backendUrl: 'http://api.hospital.example/' },
    { ...good, appOrigin: 'https://clinician.evil.example' },
    { ...good, appOrigin: 'http://clinician.hospital.example' },
    { ...good, appOrigin: 'https://clinician.hospital.example/app/' },
    { ...good, extra: true },
    { backendUrl: good.backendUrl },
    'not json',
  ];
  for (const policy of bad) {
    withPolicy(policy, (file) =>
      assert.throws(() => loadAppConfig({ platform: 'linux', env: {}, packaged: true, file }), (e: unknown) => e instanceof AppError && /IT/.test(e.message)),
    );
  }
});

test('environment variables override only in development builds', () => {
  const env = { CLINICIAN_BACKEND_URL: 'http://127.0.0.1:8787/' };
  withPolicy(good, (file) => {
    assert.equal(loadAppConfig({ platform: 'linux', env, packaged: false, file }).backendUrl, 'http://127.0.0.1:8787/');
    assert.equal(loadAppConfig({ platform: 'linux', env, packaged: true, file }).backendUrl, good.backendUrl);
  });
});

test('a packaged app without a policy file refuses to start; a development build has loopback defaults', () => {
  const missing = join(tmpdir(), `absent-policy-${randomUUID()}.json`);
  assert.throws(() => loadAppConfig({ platform: 'linux', env: {}, packaged: true, file: missing }), (e: unknown) => e instanceof AppError);
  assert.equal(loadAppConfig({ platform: 'linux', env: {}, packaged: false, file: missing }).backendUrl, 'http://127.0.0.1:8787/');
});

test('the policy lives in a machine-wide location on each platform', () => {
  assert.equal(policyFilePath('linux', {}), '/etc/clinician-desktop/policy.json');
  assert.equal(policyFilePath('win32', { ProgramData: 'C:\\ProgramData' }), join('C:\\ProgramData', 'ClinicianDesktop', 'policy.json'));
  assert.match(policyFilePath('darwin', {}), /^\/Library\//);
});
