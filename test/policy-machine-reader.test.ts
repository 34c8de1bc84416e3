/**
 * Which machine-policy source the app reads, per OS: Group Policy on
 * Windows, managed preferences on macOS, the root-owned file on Linux only,
 * nothing (with a problem) on any other OS. The Linux file is never read on
 * another OS (on Windows "/etc/clinician-desktop/policy.json" would be
 * C:\etc\…, a folder any user can create), and the configuration is only
 * ever built from an explicit reading, never from a file it finds itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machinePolicyReader } from '../electron/services/policy/machine-policy';
import { LINUX_POLICY_FILE, readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import { resolveAppConfig } from '../electron/services/app-config';
import { AppError } from '../shared/app-error';
import { scratchDir } from './support/scratch';

const good = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };

function withGoodPolicyFile(fn: (file: string) => void) {
  const dir = scratchDir('policy');
  try {
    const folder = join(dir.path, 'clinician-desktop');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    const file = join(folder, 'policy.json');
    writeFileSync(file, JSON.stringify({ ...good, consultScreenShare: true }));
    chmodSync(file, 0o644);
    fn(file);
  } finally {
    dir.remove();
  }
}

test('Windows reads Group Policy and macOS managed preferences, never the Linux policy file', () => {
  const win = machinePolicyReader('win32');
  assert.equal(win.kind, 'os-policy');
  assert.equal(win.source, 'Windows Group Policy (HKLM\\Software\\Policies\\ClinicianDesktopProject\\ClinicianDesktop)');
  const mac = machinePolicyReader('darwin');
  assert.equal(mac.kind, 'os-policy');
  assert.equal(mac.source, 'macOS managed preferences (org.clinician-desktop.app)');
  for (const r of [win, mac]) assert.ok(!r.source.includes('/etc') && !r.source.includes('policy.json'), r.source);
});

test('Linux reads the root-owned policy file', () => {
  const linux = machinePolicyReader('linux');
  assert.equal(linux.kind, 'linux-file');
  assert.equal(linux.source, LINUX_POLICY_FILE);
});

test('any other OS has no machine policy: an empty reading with a problem, never a file', async () => {
  for (const platform of ['freebsd', 'openbsd', 'sunos', 'aix', 'android', 'cygwin', 'netbsd', 'haiku'] as NodeJS.Platform[]) {
    const reader = machinePolicyReader(platform);
    assert.equal(reader.kind, 'none', platform);
    const reading = await reader.read();
    assert.equal(reading.present, false, platform);
    assert.deepEqual(reading.values, {}, platform);
    assert.equal(reading.problems.length, 1, platform);
    assert.match(reading.problems[0]!, new RegExp(`no machine policy source on ${platform}`), platform);
    assert.ok(!reading.source.includes('/etc'), reading.source);
  }
});

test('the configuration is never built without an explicit policy reading (no file fallback on any OS)', () => {
  withGoodPolicyFile((file) => {
    for (const platform of ['win32', 'darwin', 'linux'] as const) {
      // What main used to do: no reading given. It must not go and read a file (here one a user could stand in for C:\etc\…).
      const options = { platform, env: {}, developmentBuild: false, file } as unknown as Parameters<typeof resolveAppConfig>[0];
      assert.throws(() => resolveAppConfig(options), (e: unknown) => e instanceof AppError && /no machine policy reading/.test(e.message), platform);
    }
  });
});

test('the Linux policy reader refuses to run on another OS or without O_NOFOLLOW, even for a good root-owned file', () => {
  withGoodPolicyFile((file) => {
    assert.equal(readLinuxPolicyFile(file).present, true);
    for (const host of [
      { platform: 'win32' as NodeJS.Platform, noFollow: constants.O_NOFOLLOW },
      { platform: 'darwin' as NodeJS.Platform, noFollow: constants.O_NOFOLLOW },
      { platform: 'linux' as NodeJS.Platform, noFollow: undefined },
    ]) {
      const reading = readLinuxPolicyFile(file, host);
      assert.equal(reading.present, false, host.platform);
      assert.deepEqual(reading.values, {}, host.platform);
      assert.equal(reading.problems.length, 1);
      assert.match(reading.problems[0]!, /refused: .*(only on Linux|cannot refuse symbolic links)/);
    }
  });
});
