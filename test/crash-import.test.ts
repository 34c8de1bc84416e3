/**
 * Crash safety: a child process importing bundles through the real command
 * line is killed with SIGKILL at random moments, 20 times, with a malformed
 * bundle among the good ones (refused, reported, and the next one still
 * imported). Each time the cache opens, every committed import is whole, no
 * half import is visible, a pending change in the outbox is untouched, and
 * the audit chain verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { openCacheSession } from '../electron/services/cache-session';
import { recordChange } from '../electron/services/outbox';
import type { FhirResource } from '../shared/contract';
import { verifyCache } from '../electron/services/cache-maintenance';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { spawnCli } from './support/cache-cli';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const BUNDLES_PER_RUN = 8;
const OBSERVATIONS_PER_BUNDLE = 400;
const KILLS = 20;
/** Where the malformed bundle sits among the good ones (its position in the command line). */
const BAD_AT = 3;

function writeBundles(dir: string, run: number): { files: string[]; patientIds: string[] } {
  const files: string[] = [];
  const patientIds: string[] = [];
  for (let b = 0; b < BUNDLES_PER_RUN; b++) {
    const patientId = `crash-r${run}-b${b}`;
    const file = join(dir, `run${run}-bundle${b}.json`);
    writeFileSync(file, JSON.stringify(syntheticPatientBundle({ patientId, observations: OBSERVATIONS_PER_BUNDLE })));
    files.push(file);
    patientIds.push(patientId);
  }
  // A good bundle cut short (not JSON): refused whole, and the import goes on to the next.
  const bad = join(dir, `run${run}-malformed.json`);
  writeFileSync(bad, readFileSync(files[0]!).subarray(0, 20_000));
  files.splice(BAD_AT, 0, bad);
  return { files, patientIds };
}

/** Runs the import to the end once: when its first bundle committed, and a bundle's time after that (ms). */
async function calibrate(env: NodeJS.ProcessEnv, dataDir: string, files: string[]): Promise<{ first: number; perBundle: number }> {
  const start = Date.now();
  const child = spawnCli(['import', ...files, '--data-dir', dataDir], env);
  let first = 0;
  child.stdout.on('data', () => {
    if (!first) first = Date.now() - start;
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 1, 'non-zero: one bundle was refused');
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { bundle: number; refused?: { code: string } });
  assert.equal(lines.length, files.length, 'every bundle tried and reported');
  assert.equal(lines[BAD_AT]!.refused?.code, 'BUNDLE_INVALID');
  assert.equal(lines.filter((l) => l.refused).length, 1);
  const last = Date.now() - start;
  return { first, perBundle: (last - first) / (files.length - 1) };
}

/** Resolves once the import printed `lines` result lines (at once for 0), or ended. */
function reported(child: ReturnType<typeof spawnCli>, lines: number): Promise<void> {
  if (lines === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    child.stdout.on('data', (d: Buffer) => {
      seen += d.toString().split('\n').length - 1;
      if (seen >= lines) resolve();
    });
    child.once('exit', () => resolve());
  });
}

test('SIGKILL during imports with a malformed bundle among them, 20 times: committed imports are whole, none is half, the outbox is untouched, the chain verifies', { timeout: 300_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('crash');
  const dataDir = join(dir.path, 'cache');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  try {
    const warmup = writeBundles(dir.path, 999);
    const timing = await calibrate(env, dataDir, warmup.files);
    // A change waiting in the outbox: no import, whole, refused or killed, may touch it.
    const seeded = await openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: false });
    const outboxRows = async (s: typeof seeded) => JSON.stringify((await inspectCache(s, keychain)).prepare('SELECT * FROM outbox ORDER BY 1').all());
    let outbox: string;
    try {
      const change = { resourceType: 'Observation', id: 'crash-pending', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${warmup.patientIds[0]}` } };
      await recordChange(seeded, change as FhirResource);
      outbox = await outboxRows(seeded);
      assert.notEqual(outbox, '[]');
    } finally {
      await seeded.close();
    }
    let partialRuns = 0;
    for (let run = 0; run < KILLS; run++) {
      const { files, patientIds } = writeBundles(dir.path, run);
      const child = spawnCli(['import', ...files, '--data-dir', dataDir], env);
      // Killed after the import reported `after` bundles (one JSON line each, as each commits or is refused), at a random
      // moment within the next bundle's time: from just before the first commit to inside the last bundle, whatever the
      // machine's load (a kill timed from the start alone missed every import on a loaded machine).
      const after = run % files.length;
      await reported(child, after);
      const delay = (after === 0 ? timing.first * 0.8 : 0) + Math.random() * timing.perBundle;
      await new Promise((r) => setTimeout(r, delay));
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
      child.kill('SIGKILL');
      await exited;

      const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: false });
      try {
        const db = await inspectCache(session, keychain);
        const count = db.prepare('SELECT count(*) FROM resources WHERE patient_id = ?').pluck();
        // Every resource of a committed import is named by its create entries (at most 200 a entry), none otherwise.
        const audits = db.prepare("SELECT coalesce(sum(json_array_length(entry, '$[7]')), 0) FROM audit_log WHERE patient_id = ? AND action = 'C'").pluck();
        let committed = 0;
        for (const patientId of patientIds) {
          const n = count.get(patientId) as number;
          assert.ok(n === 0 || n === OBSERVATIONS_PER_BUNDLE + 1, `run ${run}: bundle for ${patientId} is half imported (${n})`);
          assert.equal(audits.get(patientId), n, `run ${run}: each committed resource audited once, none otherwise`);
          if (n > 0) committed++;
        }
        // Bundles commit in order: a later one never lands before an earlier one.
        for (let b = 1; b < patientIds.length; b++) {
          if ((count.get(patientIds[b]!) as number) > 0) assert.ok((count.get(patientIds[b - 1]!) as number) > 0, 'commit order');
        }
        if (committed > 0 && committed < BUNDLES_PER_RUN) partialRuns++;
        assert.equal(await outboxRows(session), outbox, `run ${run}: the outbox is whole`);
        // The malformed bundle's refusal is audited at most once a run (and was, in the warm-up run that finished).
        const refusals = db.prepare("SELECT count(*) FROM audit_log WHERE json_extract(entry, '$[9]') = '4'").pluck().get() as number;
        assert.ok(refusals >= 1 && refusals <= run + 2, `run ${run}: ${refusals} refused imports audited`);
        const report = await verifyCache(session);
        assert.equal(report.ok, true, `run ${run}: chain verifies`);
      } finally {
        await session.close();
      }
    }
    assert.ok(partialRuns >= 3, `kills landed mid-import in ${partialRuns} of ${KILLS} runs`);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
