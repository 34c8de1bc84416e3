/**
 * The cache command line's `stats` and `audit-export` are audited (issue
 * 13): real CLI process, real keychain. Each run writes one 'export' entry by
 * the OS account (patient null, format and reason URNs, the --reason text in
 * query) in the same transaction as its read, and says so on stderr; the
 * next audit-export shows it as a BALP event; both refuse a profile enrolled
 * with the backend (exit 3, not a byte changed), whose trail would otherwise
 * stop uploading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { openCacheSession } from '../electron/services/cache-session';
import { readProfile } from '../electron/services/cache-profile';
import { inspectCache } from './support/cache-inspect';
import { FALLBACK_POLICY, savePasskeyRecord } from '../electron/services/session/passkey-record';
import { exportFacts, osUserActor, parseCanonicalAuditEntry } from '../shared/audit-entry';
import { runCli, spawnCli } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { testKeychain } from './support/test-keychain';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) files[join(d.parentPath, d.name)] = createHash('sha256').update(readFileSync(join(d.parentPath, d.name))).digest('hex');
  }
  return files;
}

test('stats and audit-export each write an export entry by the OS account with their read, and say so on stderr', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-audited');
  try {
    const dataDir = join(dir.path, 'cache');
    const bundle = join(dir.path, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId: 'cli-audited', observations: 2 })));
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    assert.equal(runCli(['import', bundle, '--data-dir', dataDir], env).status, 0);

    const stats = runCli(['stats', '--data-dir', dataDir, '--reason', 'quarterly device review'], env);
    assert.equal(stats.status, 0, stats.stderr);
    assert.equal((JSON.parse(stats.stdout) as Json).patients, 1);
    assert.match(stats.stderr, new RegExp(`^stats: audited: .*audit log.* ${osUserActor(userInfo().username)}\\.$`, 'm'));

    const exported = runCli(['audit-export', '--data-dir', dataDir], env);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stderr, /^audit-export: audited: /m);
    const events = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    // The import, then the stats run as a BALP event of our own subtype; this run's own entry is next time's.
    assert.deepEqual(events.map((e) => e.subtype.at(-1).code), ['create', 'export']);
    assert.equal(events[1]!.agent[0].who.identifier.value, userInfo().username);

    const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test-reader', create: false });
    try {
      const db = await inspectCache(session, keychain);
      const rows = (db.prepare("SELECT entry FROM audit_log WHERE subtype = 'export' ORDER BY seq").pluck().all() as string[]).map((e) => parseCanonicalAuditEntry(e)!);
      assert.equal(rows.length, 2);
      const [statsEntry, exportEntry] = rows as [NonNullable<(typeof rows)[0]>, NonNullable<(typeof rows)[0]>];
      for (const e of rows) {
        assert.equal(e.actor, osUserActor(userInfo().username));
        assert.equal(e.action, 'R');
        assert.equal(e.patientId, null);
        assert.equal(e.outcome, '0');
      }
      assert.deepEqual(statsEntry.entities, exportFacts({ format: 'cache-stats-json', reason: 'command-line' }));
      assert.equal(statsEntry.query, 'quarterly device review');
      assert.deepEqual(exportEntry.entities, exportFacts({ format: 'audit-events-ndjson', reason: 'command-line' }));
      assert.equal(exportEntry.query, null);
    } finally {
      await session.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('stats and audit-export refuse a profile enrolled with the backend (exit 3) and change nothing', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-audited-enrolled');
  try {
    const dataDir = join(dir.path, 'cache');
    const bundle = join(dir.path, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId: 'cli-enrolled', observations: 1 })));
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    assert.equal(runCli(['import', bundle, '--data-dir', dataDir], env).status, 0);
    const profile = readProfile(dataDir)!;
    await savePasskeyRecord(keychain, profile.profileId, { clinicianId: 'dr.own', displayName: 'Dr Own', credentials: [], policy: { ...FALLBACK_POLICY, requirePrf: false }, lastOnlineAt: Date.now() });
    const before = snapshot(dataDir);
    for (const command of ['stats', 'audit-export']) {
      const r = runCli([command, '--data-dir', dataDir], env);
      assert.equal(r.status, 3, r.stderr);
      assert.match(r.stderr, /^error PROFILE_ENROLLED: .*audited/m);
      assert.equal(r.stdout, '', 'nothing read out');
    }
    assert.deepEqual(snapshot(dataDir), before, 'not a byte of the folder changed');
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('audit-export killed (SIGKILL) at its first line of output leaves its export entry committed: no output without its entry', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-audited-killed');
  try {
    const dataDir = join(dir.path, 'cache');
    const bundle = join(dir.path, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId: 'cli-killed', observations: 2 })));
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    assert.equal(runCli(['import', bundle, '--data-dir', dataDir], env).status, 0);
    const child = spawnCli(['audit-export', '--data-dir', dataDir, '--reason', 'killed run'], env);
    let got = '';
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    child.stdout.on('data', (d: Buffer) => {
      got += d.toString();
      child.kill('SIGKILL');
    });
    assert.equal(await exited, 'SIGKILL');
    assert.ok(got.includes('"resourceType":"AuditEvent"'), 'an AuditEvent was printed before the kill');
    const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test-reader', create: false });
    try {
      const db = await inspectCache(session, keychain);
      const queries = db.prepare("SELECT query FROM audit_log WHERE subtype = 'export'").pluck().all();
      assert.deepEqual(queries, ['killed run'], 'the run that printed is in the trail');
    } finally {
      await session.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
