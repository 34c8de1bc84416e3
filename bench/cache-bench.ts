/**
 * Benchmark of the encrypted cache against a plaintext better-sqlite3
 * baseline measured in the same run, with the same schema, pragmas and
 * services. Prints one JSON object: medians and p95s, ratios against the
 * baseline, and the targets of issue #2 with whether each was met.
 * Full size: 100k observations, 1M audit entries; quick: a tenth. Also
 * issue 10's per-keystroke draft save (a SOAP note typed 2,000 characters
 * long, one save per keystroke) and the worklist (200 of the patients).
 * Figures only: this is not a test and asserts nothing. Run by bench/run-all.ts.
 */
import { generateKeyPairSync, randomBytes, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BaselineDatabase from 'better-sqlite3';
import { AuditChain, verifyAuditChain } from '../electron/services/audit-chain';
import { importBundle } from '../electron/services/bundle-import';
import { openCacheSession, sessionFrom, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import { applyMigrations } from '../electron/services/cache-migrations';
import { putDraft } from '../electron/services/drafts';
import { createOsSecretStore } from '../electron/services/secret-store';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { syntheticPatientBundle } from '../test/support/synthetic-bundles';
import { ms, round, stats } from './bench-stats';

let quick = false;
let PATIENTS = 1000;
const OBS_PER_PATIENT = 100;
let RANDOM_READS = 100_000;
let CHART_OPENS = 2000;
let SEARCHES = 2000;
let AUDIT_APPENDS = 50_000;
let VERIFY_ENTRIES = 1_000_000;
let KEYSTROKES = 2000;
let WORKLISTS = 30;

function setScale(isQuick: boolean): void {
  quick = isQuick;
  const scale = quick ? 0.1 : 1;
  PATIENTS = Math.round(1000 * scale);
  RANDOM_READS = Math.round(100_000 * scale);
  CHART_OPENS = Math.round(2000 * scale);
  SEARCHES = Math.round(2000 * scale);
  AUDIT_APPENDS = Math.round(50_000 * scale);
  VERIFY_ENTRIES = Math.round(1_000_000 * scale);
  KEYSTROKES = Math.round(2000 * scale);
  WORKLISTS = Math.max(5, Math.round(30 * scale));
}

function baselineSession(dir: string): CacheSession {
  const db = new BaselineDatabase(join(dir, 'plain.db')) as unknown as CacheDatabase;
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -32768');
  applyMigrations(db);
  const { privateKey } = generateKeyPairSync('ed25519');
  const context = { actor: 'bench', deviceId: 'baseline', purpose: 'TREAT' };
  return sessionFrom({
    profile: { dataDir: dir, profileId: 'baseline', databaseFile: join(dir, 'plain.db') },
    db,
    keys: { cacheKey: randomBytes(32), signingKey: privateKey, publicKey: createPublicKey(privateKey) },
    context,
    audit: new AuditChain(db, privateKey, context),
  });
}

async function importWorkload(session: CacheSession): Promise<{ seconds: number; observations_per_s: number }> {
  const start = process.hrtime.bigint();
  for (let p = 0; p < PATIENTS; p++) {
    await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: `bench-p${p}`, observations: OBS_PER_PATIENT, days: 3650 })));
  }
  // The chart patient: about 200 resources.
  await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: 'bench-chart', observations: 199, days: 3650 })));
  const seconds = ms(start) / 1000;
  return { seconds: round(seconds), observations_per_s: Math.round((PATIENTS * OBS_PER_PATIENT) / seconds) };
}

function randomReads(session: CacheSession): { reads_per_s: number } {
  const get = session.db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation' AND id = ?").pluck();
  const start = process.hrtime.bigint();
  for (let i = 0; i < RANDOM_READS; i++) {
    const p = Math.floor(Math.random() * PATIENTS);
    const o = Math.floor(Math.random() * OBS_PER_PATIENT);
    if (get.get(`bench-p${p}-o${o}`) === undefined) throw new Error('missing row');
  }
  return { reads_per_s: Math.round(RANDOM_READS / (ms(start) / 1000)) };
}

/** Interleaves the two sessions round by round so machine noise hits both alike. */
async function interleaved(sessions: CacheSession[], rounds: number, op: (s: CacheSession, i: number) => Promise<unknown>): Promise<number[][]> {
  const samples = sessions.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) {
    for (const [k, s] of sessions.entries()) {
      const start = process.hrtime.bigint();
      await op(s, i);
      samples[k]!.push(ms(start));
    }
  }
  return samples;
}

function appendOne(session: CacheSession, i: number): void {
  const patientId = `bench-p${i % PATIENTS}`;
  session.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
}

/**
 * Two rates: one entry per transaction (each access commits on its own, so
 * this includes SQLite's commit), and the chain's own cost with 100 entries
 * per transaction (hashing, inserting, head signing).
 */
function auditAppends(session: CacheSession): { one_per_commit_per_s: number; in_transaction_per_s: number } {
  let start = process.hrtime.bigint();
  for (let i = 0; i < AUDIT_APPENDS; i++) session.audited(() => appendOne(session, i));
  const single = Math.round(AUDIT_APPENDS / (ms(start) / 1000));
  start = process.hrtime.bigint();
  for (let i = 0; i < AUDIT_APPENDS; i += 100) {
    session.audited(() => {
      for (let k = i; k < i + 100; k++) appendOne(session, k);
    });
  }
  return { one_per_commit_per_s: single, in_transaction_per_s: Math.round(AUDIT_APPENDS / (ms(start) / 1000)) };
}

function verifyWorkload(session: CacheSession): { entries: number; seconds: number } {
  const have = session.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
  const missing = Math.max(0, VERIFY_ENTRIES - have);
  for (let done = 0; done < missing; done += 20_000) {
    session.audited(() => {
      for (let i = done; i < Math.min(missing, done + 20_000); i++) appendOne(session, i);
    });
  }
  session.audit.signHead(true);
  const start = process.hrtime.bigint();
  const report = verifyAuditChain(session.db, session.keys.publicKey, session.context.deviceId);
  const seconds = ms(start) / 1000;
  if (!report.ok) throw new Error('bench chain does not verify');
  return { entries: report.entries, seconds: round(seconds) };
}

export async function runCacheBench(isQuick: boolean): Promise<Record<string, unknown>> {
  setScale(isQuick);
  const dir = mkdtempSync(join(tmpdir(), 'clinician-bench-'));
  const secrets = createOsSecretStore(`org.clinician-desktop.bench.${process.pid}`);
  const encrypted = await openCacheSession({ dataDir: join(dir, 'encrypted'), secrets, actor: 'bench', create: true });
  const plain = baselineSession(dir);
  try {
    const importEnc = await importWorkload(encrypted);
    const importPlain = await importWorkload(plain);
    const readsEnc = randomReads(encrypted);
    const readsPlain = randomReads(plain);

    // The store's calls, each awaited (the same SQL and audit work as chart.open and patients.search, on the session's
    // store; the worker's own latency is measured by item 2 of issue 14).
    const chartOf = (s: CacheSession) => s.store.call('openChart', { patientId: 'bench-chart' });
    const opened = await chartOf(encrypted);
    if (!opened.found) throw new Error('bench chart missing');
    const chartResources = Object.values(opened.chart.groups).reduce((a, g) => a + g.items.length, 1);
    await interleaved([encrypted, plain], 50, chartOf); // warm-up
    const [chartEnc, chartPlain] = (await interleaved([encrypted, plain], CHART_OPENS, chartOf)).map(stats);

    const [searchEnc, searchPlain] = (
      await interleaved([encrypted, plain], SEARCHES, (s, i) => s.store.call('searchPatients', { query: `testfamilybench-p${i % PATIENTS}`.slice(0, 14 + (i % 4)) }))
    ).map(stats);

    // One drafts.put per keystroke: the note grows by a character each time (issue 10).
    const note = 'Patient reports chest pain since the morning, worse on exertion. '.repeat(40);
    const [draftEnc, draftPlain] = (
      await interleaved([encrypted, plain], KEYSTROKES, (s, i) =>
        putDraft(s, { patientId: 'bench-chart', kind: 'note', target: '', body: { subjective: note.slice(0, (i % note.length) + 1), objective: '', assessment: '', plan: '' } }, new Date()),
      )
    ).map(stats);
    await interleaved([encrypted, plain], 3, (s) => s.store.call('patientWorklist', {})); // warm-up
    const [worklistEnc, worklistPlain] = (await interleaved([encrypted, plain], WORKLISTS, (s) => s.store.call('patientWorklist', {}))).map(stats);

    const appendEnc = auditAppends(encrypted);
    const appendPlain = auditAppends(plain);
    const verifyEnc = verifyWorkload(encrypted);
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);

    const chartRatio = round(chartEnc!.p50_ms / chartPlain!.p50_ms);
    const result = {
      bench: 'cache',
      mode: quick ? 'quick' : 'full',
      node: process.version,
      sizes: { patients: PATIENTS, observations: PATIENTS * OBS_PER_PATIENT, chart_resources: chartResources, random_reads: RANDOM_READS, chart_opens: CHART_OPENS, searches: SEARCHES, audit_appends: AUDIT_APPENDS, verify_entries: verifyEnc.entries },
      import: { encrypted: importEnc, plaintext: importPlain, ratio: round(importEnc.seconds / importPlain.seconds) },
      random_reads: { encrypted: readsEnc, plaintext: readsPlain, ratio: round(readsPlain.reads_per_s / readsEnc.reads_per_s) },
      chart_open: { encrypted: chartEnc, plaintext: chartPlain, ratio_p50: chartRatio, ratio_p95: round(chartEnc!.p95_ms / chartPlain!.p95_ms) },
      search: { encrypted: searchEnc, plaintext: searchPlain, ratio_p50: round(searchEnc!.p50_ms / searchPlain!.p50_ms) },
      draft_keystroke: { encrypted: draftEnc, plaintext: draftPlain, ratio_p50: round(draftEnc!.p50_ms / draftPlain!.p50_ms) },
      worklist_200: { encrypted: worklistEnc, plaintext: worklistPlain, ratio_p50: round(worklistEnc!.p50_ms / worklistPlain!.p50_ms) },
      audit_append: {
        encrypted: appendEnc,
        plaintext: appendPlain,
        ratio_one_per_commit: round(appendPlain.one_per_commit_per_s / appendEnc.one_per_commit_per_s),
        ratio_in_transaction: round(appendPlain.in_transaction_per_s / appendEnc.in_transaction_per_s),
      },
      audit_verify: { encrypted: verifyEnc, entries_per_s: Math.round(verifyEnc.entries / verifyEnc.seconds) },
      peak_rss_mb: peakRssMb,
      targets: {
        chart_open_p95_under_5ms: chartEnc!.p95_ms < 5,
        chart_open_encrypted_within_1_5x: chartRatio <= 1.5,
        audit_append_at_least_20k_per_s: {
          one_per_commit: appendEnc.one_per_commit_per_s >= 20_000,
          in_transaction: appendEnc.in_transaction_per_s >= 20_000,
        },
        verify_1m_under_5s: quick ? `quick run: ${verifyEnc.entries} entries in ${verifyEnc.seconds}s` : verifyEnc.seconds < 5,
        peak_rss_under_300mb: peakRssMb < 300,
        draft_keystroke_p95_under_16ms: draftEnc!.p95_ms < 16,
      },
    };
    return result;
  } finally {
    encrypted.close();
    plain.close();
    await deleteDeviceKeys(secrets, encrypted.profile.profileId);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A cache of `patients` x 100 observations for other benchmarks (the unlock time). */
export async function fillCache(session: CacheSession, patients: number): Promise<void> {
  for (let p = 0; p < patients; p++) {
    await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: `bench-p${p}`, observations: OBS_PER_PATIENT, days: 3650 })));
  }
}
