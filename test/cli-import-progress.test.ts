/**
 * The command line's import says how far it is on stderr when the import is
 * long (several bundles, or one big one), as a real child process with the
 * real keychain: one line per bundle with the resources and patients
 * imported so far and the files left (a refused bundle counted as such), a
 * big bundle announced before its one transaction, nothing for a single
 * small bundle; never PHI (the Synthea fixtures' names, MRNs, birth dates
 * are looked for in everything printed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { SYNTHEA_FILES, findLeaks, loadFixturePatients, phiNeedles } from './support/synthea';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const progressLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('import: '));

test('several bundles: a progress line after each, counts adding up, files left counting down, no PHI', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-import-progress');
  try {
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, '{"resourceType":"Bundle"');
    const files = [SYNTHEA_FILES[0]!, bad, SYNTHEA_FILES[1]!];
    const r = runCli(['import', ...files, '--data-dir', join(dir.path, 'cache')], env);
    assert.equal(r.status, 1, r.stderr);
    const imported = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { imported?: number; patients?: number });
    const lines = progressLines(r.stderr);
    assert.equal(lines.length, files.length, `one progress line per bundle:\n${r.stderr}`);
    let resources = 0;
    let patients = 0;
    lines.forEach((line, i) => {
      resources += imported[i]!.imported ?? 0;
      patients += imported[i]!.patients ?? 0;
      const left = files.length - i - 1;
      const count = (n: number) => n.toLocaleString('en-US');
      const head = `import: ${i + 1} of ${files.length} bundles done${i >= 1 ? ' (1 refused)' : ''}: ${count(resources)} resources, ${count(patients)} patient${patients === 1 ? '' : 's'} so far; `;
      assert.ok(line.startsWith(head), `line ${i + 1}: ${line}\nexpected to start with: ${head}`);
      assert.match(line.slice(head.length), left === 0 ? /^no files left$/ : new RegExp(`^${left} files? left(, (less than a minute|about \\d+ min) left)?$`));
    });
    assert.ok(resources > 100, 'the fixtures imported');
    assert.deepEqual(findLeaks(Buffer.from(r.stdout + r.stderr), phiNeedles(loadFixturePatients())), [], 'no PHI printed');

    const single = runCli(['import', SYNTHEA_FILES[2]!, '--data-dir', join(dir.path, 'single')], env);
    assert.equal(single.status, 0, single.stderr);
    assert.deepEqual(progressLines(single.stderr), [], 'one small bundle: no progress lines');
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('one big bundle: announced before its one transaction, then its counts', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-import-big');
  try {
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const big = join(dir.path, 'big.json');
    writeFileSync(big, JSON.stringify(syntheticPatientBundle({ patientId: 'big-import-patient', observations: 16_000 })));
    const r = runCli(['import', big, '--data-dir', join(dir.path, 'cache')], env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(progressLines(r.stderr), [
      r.stderr.match(/^import: bundle 1 of 1 \(\d+ MB\) is being imported in one piece$/m)?.[0],
      'import: 1 of 1 bundles done: 16,001 resources, 1 patient so far; no files left',
    ]);
    assert.doesNotMatch(r.stderr, /big-import-patient|Testfamily/, 'no id or name');
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
