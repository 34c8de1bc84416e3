/**
 * The Linux machine-policy file, read as root (the tests run as root) from a
 * scratch folder standing in for /etc/clinician-desktop: accepted only when
 * root-owned, a regular file reached without a symlink, and neither it nor
 * its folder writable by group or others; a refused or malformed file is
 * reported and nothing in it is used; bad values are reported and the
 * safest value used; policy beats the user's theme.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import { createSettingsSurface, effectiveSettings } from '../electron/services/policy/effective-settings';
import { resolveAppConfig } from '../electron/services/app-config';
import { AppError } from '../shared/app-error';
import { contract } from '../shared/contract';
import { scratchDir } from './support/scratch';

const good = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };
const NOBODY = 65534;

async function withPolicyFolder(fn: (folder: string, file: string) => void | Promise<void>): Promise<void> {
  const dir = scratchDir('policy');
  try {
    const folder = join(dir.path, 'clinician-desktop');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    await fn(folder, join(folder, 'policy.json'));
  } finally {
    dir.remove();
  }
}

function write(file: string, content: unknown, mode = 0o644) {
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(file, mode);
}

async function assertRefused(file: string, why: RegExp) {
  const reading = readLinuxPolicyFile(file);
  assert.equal(reading.present, false);
  assert.deepEqual(reading.values, {});
  assert.equal(reading.problems.length, 1);
  assert.match(reading.problems[0]!, why);
  assert.ok(reading.problems[0]!.includes(file));
  // The settings screen shows why, not only "(refused: not used)".
  const list = contract['settings.list'].output.parse(await createSettingsSurface({ policy: reading }).list());
  assert.deepEqual(list.policyProblems, reading.problems);
  assert.match(list.policySource, /refused/);
  // Nothing from it is used: a packaged app stops, naming the file.
  assert.throws(
    () => resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) }),
    (e: unknown) => e instanceof AppError && e.message.includes(file) && /backendUrl is not set/.test(e.message),
  );
}

test('the tests run as root (the ownership checks need it)', () => {
  assert.equal(process.getuid?.(), 0);
});

test('a root-owned 0644 file in a root-owned 0755 folder is accepted', async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, { ...good, consultScreenShare: true });
    const reading = readLinuxPolicyFile(file);
    assert.equal(reading.present, true);
    assert.deepEqual(reading.problems, []);
    assert.deepEqual(reading.values, { ...good, consultScreenShare: true });
    assert.equal(resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: readLinuxPolicyFile(file) }).config.consultScreenShare, true);
  });
});

test('a missing file is no policy, with no problem', async () => {
  await withPolicyFolder(async (_folder, file) => {
    const reading = readLinuxPolicyFile(file);
    assert.equal(reading.present, false);
    assert.deepEqual(reading.problems, []);
  });
});

test('a file owned by another user is refused', async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, good);
    chownSync(file, NOBODY, NOBODY);
    await assertRefused(file, /not owned by root/);
  });
});

test('a symlink to a good root-owned file is refused', async () => {
  await withPolicyFolder(async (folder, file) => {
    const real = join(folder, 'real.json');
    write(real, good);
    assert.equal(readLinuxPolicyFile(real).present, true);
    symlinkSync(real, file);
    await assertRefused(file, /symbolic link/);
  });
});

test('a group-writable or world-writable file is refused', async () => {
  for (const mode of [0o664, 0o646, 0o666]) {
    await withPolicyFolder(async (_folder, file) => {
      write(file, good, mode);
      await assertRefused(file, /writable by group or others/);
    });
  }
});

test('a world-writable folder, a group-writable folder and a folder owned by another user are refused', async () => {
  for (const change of [(f: string) => chmodSync(f, 0o777), (f: string) => chmodSync(f, 0o775), (f: string) => chownSync(f, NOBODY, NOBODY)]) {
    await withPolicyFolder(async (folder, file) => {
      write(file, good);
      change(folder);
      await assertRefused(file, /its folder is (writable by group or others|not owned by root)/);
    });
  }
});

test('a folder that is a symlink is refused', async () => {
  const dir = scratchDir('policy');
  try {
    const real = join(dir.path, 'real');
    mkdirSync(real, { mode: 0o755 });
    write(join(real, 'policy.json'), good);
    symlinkSync(real, join(dir.path, 'clinician-desktop'));
    await assertRefused(join(dir.path, 'clinician-desktop', 'policy.json'), /folder is not a plain folder/);
  } finally {
    dir.remove();
  }
});

test('a directory in place of the file is refused', async () => {
  await withPolicyFolder(async (_folder, file) => {
    mkdirSync(file);
    await assertRefused(file, /not a regular file/);
  });
});

test('malformed JSON and a JSON list are refused', async () => {
  for (const content of ['{"backendUrl": "https://api.hospital.example/",', '[1, 2]']) {
    await withPolicyFolder(async (_folder, file) => {
      write(file, content);
      await assertRefused(file, /not valid JSON|one JSON object/);
    });
  }
});

test('an unknown key is reported without its value; the known ones are used', async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, { ...good, exportEnabled: 'secret-token-123' });
    const reading = readLinuxPolicyFile(file);
    assert.equal(reading.present, true);
    assert.deepEqual(Object.keys(reading.values).sort(), Object.keys(good).sort());
    assert.equal(reading.problems.length, 1);
    assert.match(reading.problems[0]!, /unknown setting "exportEnabled"/);
    assert.ok(!reading.problems[0]!.includes('secret-token-123'));
    // The settings screen names it too (never its value).
    const list = contract['settings.list'].output.parse(await createSettingsSurface({ policy: reading }).list());
    assert.equal(list.policyProblems.length, 1);
    assert.match(list.policyProblems[0]!, /unknown setting "exportEnabled"/);
    assert.ok(!JSON.stringify(list).includes('secret-token-123'));
  });
});

test('many unknown keys: the settings screen shows at most 20 problem lines, the last one counting the rest', async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, { ...good, ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`oldSetting${i}`, 'secret-token-123'])) });
    const reading = readLinuxPolicyFile(file);
    assert.equal(reading.problems.length, 30);
    const list = contract['settings.list'].output.parse(await createSettingsSurface({ policy: reading }).list());
    assert.equal(list.policyProblems.length, 20);
    assert.deepEqual(list.policyProblems.slice(0, 19), reading.problems.slice(0, 19));
    assert.match(list.policyProblems[19]!, /11 more problems/);
    for (const p of list.policyProblems) assert.ok(p.length <= 300 && !p.includes('secret-token-123'), p);
  });
});

test('a wrong type or an out-of-range value is reported (never echoed) and the safest value used, still managed', async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, { ...good, consultScreenShare: 'yes', updatesEnabled: 0, updateTargetVersion: 'latest?token=abc', updateUrl: 'http://updates.hospital.example/', theme: 'neon' });
    const policy = readLinuxPolicyFile(file);
    const { config, problems } = resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy });
    assert.equal(config.consultScreenShare, false);
    assert.equal(config.updatesEnabled, true);
    assert.equal(config.updateTargetVersion, null);
    assert.equal(config.updateUrl, null);
    const list = await createSettingsSurface({ policy }).list();
    const byName = new Map(list.settings.map((s) => [s.name, s]));
    for (const name of ['consultScreenShare', 'updatesEnabled', 'updateTargetVersion', 'updateUrl', 'theme']) {
      const view = byName.get(name)!;
      assert.equal(view.managed, true, name);
      assert.equal(view.source, 'policy', name);
      assert.match(view.problem ?? '', new RegExp(`^${view.label.replace(/[()]/g, '\\$&')} \\(${name}\\) .*the safest value is used\\.$`), name);
    }
    assert.equal(byName.get('theme')!.value, 'system');
    assert.match(byName.get('consultScreenShare')!.problem!, /^Screen sharing in consultations \(consultScreenShare\) must be On or Off \(true or false\); it is text;/);
    assert.match(byName.get('updateTargetVersion')!.problem!, /semantic version/);
    assert.ok(problems.length >= 5);
    for (const p of problems) assert.ok(!p.includes('token=abc') && !p.includes('neon') && !p.includes('http://updates'), p);
    assert.equal(list.policySource, file);
  });
});

test("policy beats the user's theme; an unmanaged density stays the user's", async () => {
  await withPolicyFolder(async (_folder, file) => {
    write(file, { ...good, theme: 'dark' });
    const policy = readLinuxPolicyFile(file);
    const resolved = effectiveSettings({ policy, user: { theme: 'light', density: 'compact' } });
    assert.deepEqual(resolved.get('theme'), { name: 'theme', value: 'dark', source: 'policy', managed: true, problem: null });
    assert.deepEqual(resolved.get('density'), { name: 'density', value: 'compact', source: 'user', managed: false, problem: null });
    const surface = createSettingsSurface({ policy, user: () => ({ theme: 'light', density: 'compact' }) });
    const theme = (await surface.list()).settings.find((s) => s.name === 'theme')!;
    assert.equal(theme.value, 'dark');
    assert.equal(theme.managed, true);
  });
});
