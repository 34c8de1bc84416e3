/**
 * Benchmark of the encrypted cache against a plaintext baseline measured in
 * the same run: both sessions opened by openCacheSession with their store in
 * a worker thread, the baseline's worker over a plain better-sqlite3 file
 * (bench/plain-store-worker.ts), so the schema, pragmas, page cache, store
 * calls and audit chain are the same and only the encryption differs.
 * Prints one JSON object: medians and p95s, ratios against the baseline, and
 * the targets of issue #2 with whether each was met. Import, chart opens,
 * search, drafts, the worklist, audit appends and verification go through
 * session.store.call (the app's path, the worker's round trip included);
 * random reads by id, which no store call offers, are a measurement of the
 * database itself on the bench's own connection to each file (same opener,
 * same page cache). Full size: 100k observations, 1M audit entries; quick:
 * a tenth. Also issue 10's per-keystroke draft save (a SOAP note typed
 * 2,000 characters long, one save per keystroke) and the worklist (200 of
 * the patients). Figures only: this is not a test and asserts nothing. Run
 * by bench/run-all.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord } from '../electron/services/audit-chain';
import { importBundle } from '../electron/services/bundle-import';
import type { CacheSession } from '../electron/services/cache-session';
import { openChart } from '../electron/services/patient-records';
import type { CacheDatabase } from '../electron/services/cache-database';
import { putDraft } from '../electron/services/drafts';
import { createOsSecretStore } from '../electron/services/secret-store';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { syntheticPatientBundle } from '../test/support/synthetic-bundles';
import { APP_CACHE_KIB, openBenchSession, openOwnConnection, STORE_WORKER } from './scale-workload';
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

/** Reads by id on the bench's own connection to the session's file (no store call reads one resource by id). */
function randomReads(db: CacheDatabase): { reads_per_s: number } {
  const get = db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation' AND id = ?").pluck();
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

function auditRecord(i: number): AuditRecord {
  const patientId = `bench-p${i % PATIENTS}`;
  return { action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' };
}

/** Entries `from` to `to` (exclusive) as one appendAudit call: one transaction in the worker. */
function appendRange(session: CacheSession, from: number, to: number): Promise<unknown> {
  const records: AuditRecord[] = [];
  for (let i = from; i < to; i++) records.push(auditRecord(i));
  return session.store.call('appendAudit', { records });
}

/**
 * Two rates, through the store's appendAudit call (the worker's round trip
 * included): one entry per call (each call is its own transaction, so this
 * includes SQLite's commit), and 100 entries per call (the chain's own cost:
 * hashing, inserting, head signing).
 */
async function auditAppends(session: CacheSession): Promise<{ one_per_commit_per_s: number; in_transaction_per_s: number }> {
  let start = process.hrtime.bigint();
  for (let i = 0; i < AUDIT_APPENDS; i++) await appendRange(session, i, i + 1);
  const single = Math.round(AUDIT_APPENDS / (ms(start) / 1000));
  start = process.hrtime.bigint();
  for (let i = 0; i < AUDIT_APPENDS; i += 100) await appendRange(session, i, i + 100);
  return { one_per_commit_per_s: single, in_transaction_per_s: Math.round(AUDIT_APPENDS / (ms(start) / 1000)) };
}

/** Fills the chain to VERIFY_ENTRIES, signs its head, then times the store's verifyChain call over the whole chain. */
async function verifyWorkload(session: CacheSession): Promise<{ entries: number; seconds: number }> {
  const have = (await session.store.call('cacheStats', { audit: null })).auditEntries;
  const missing = Math.max(0, VERIFY_ENTRIES - have);
  for (let done = 0; done < missing; done += 20_000) await appendRange(session, done, Math.min(missing, done + 20_000));
  await session.store.call('signHead', { force: true });
  const start = process.hrtime.bigint();
  const report = await session.store.call('verifyChain', {});
  const seconds = ms(start) / 1000;
  if (!report.ok) throw new Error('bench chain does not verify');
  return { entries: report.entries, seconds: round(seconds) };
}

export async function runCacheBench(isQuick: boolean): Promise<Record<string, unknown>> {
  setScale(isQuick);
  const dir = mkdtempSync(join(tmpdir(), 'clinician-bench-'));
  const secrets = createOsSecretStore(`org.clinician-desktop.bench.${process.pid}`);
  const sessions: CacheSession[] = [];
  try {
    const open = async (kind: 'encrypted' | 'plaintext') => {
      const s = await openBenchSession({ kind, dataDir: join(dir, kind), secrets, actor: 'bench', create: true, cacheKiB: APP_CACHE_KIB });
      sessions.push(s);
      return s;
    };
    const encrypted = await open('encrypted');
    const plain = await open('plaintext');
    const importEnc = await importWorkload(encrypted);
    const importPlain = await importWorkload(plain);
    // Reads by id: the database itself, on the bench's own connection to each file (same opener and page cache as its worker).
    const readsOn = async (s: CacheSession, kind: 'encrypted' | 'plaintext') => {
      const db = await openOwnConnection(s, kind, secrets, APP_CACHE_KIB);
      try {
        return randomReads(db);
      } finally {
        db.close();
      }
    };
    const readsEnc = await readsOn(encrypted, 'encrypted');
    const readsPlain = await readsOn(plain, 'plaintext');

    // The store's calls, each awaited through the session (main to the store's worker and back, as the app runs them).
    const chartOf = (s: CacheSession) => openChart(s, 'bench-chart');
    const opened = await chartOf(encrypted);
    const chartResources = Object.values(opened.groups).reduce((a, g) => a + g.items.length, 1);
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

    const appendEnc = await auditAppends(encrypted);
    const appendPlain = await auditAppends(plain);
    const verifyEnc = await verifyWorkload(encrypted);
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);

    const chartRatio = round(chartEnc!.p50_ms / chartPlain!.p50_ms);
    const result = {
      bench: 'cache',
      mode: quick ? 'quick' : 'full',
      node: process.version,
      store_workers: STORE_WORKER.how,
      sizes: { patients: PATIENTS, observations: PATIENTS * OBS_PER_PATIENT, chart_resources: chartResources, random_reads: RANDOM_READS, chart_opens: CHART_OPENS, searches: SEARCHES, audit_appends: AUDIT_APPENDS, verify_entries: verifyEnc.entries },
      import: { encrypted: importEnc, plaintext: importPlain, ratio: round(importEnc.seconds / importPlain.seconds) },
      random_reads: {
        via: "the bench's own connection to each file (no store call reads by id), same opener and page cache as its worker",
        encrypted: readsEnc,
        plaintext: readsPlain,
        ratio: round(readsPlain.reads_per_s / readsEnc.reads_per_s),
      },
      store_calls_via: 'session.store.call: main to the store worker and back, both caches',
      chart_open: { encrypted: chartEnc, plaintext: chartPlain, ratio_p50: chartRatio, ratio_p95: round(chartEnc!.p95_ms / chartPlain!.p95_ms) },
      search: { encrypted: searchEnc, plaintext: searchPlain, ratio_p50: round(searchEnc!.p50_ms / searchPlain!.p50_ms) },
      draft_keystroke: { encrypted: draftEnc, plaintext: draftPlain, ratio_p50: round(draftEnc!.p50_ms / draftPlain!.p50_ms) },
      worklist_200: { encrypted: worklistEnc, plaintext: worklistPlain, ratio_p50: round(worklistEnc!.p50_ms / worklistPlain!.p50_ms) },
      audit_append: {
        via: 'store appendAudit calls: 1 entry per call, then 100 per call (one transaction each)',
        encrypted: appendEnc,
        plaintext: appendPlain,
        ratio_one_per_commit: round(appendPlain.one_per_commit_per_s / appendEnc.one_per_commit_per_s),
        ratio_in_transaction: round(appendPlain.in_transaction_per_s / appendEnc.in_transaction_per_s),
      },
      audit_verify: { via: 'store verifyChain call over the whole chain', encrypted: verifyEnc, entries_per_s: Math.round(verifyEnc.entries / verifyEnc.seconds) },
      peak_rss_mb: peakRssMb,
      peak_rss_note: "one process: main, both caches' store workers and, during the reads, the bench's own connections",
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
    for (const s of sessions) {
      await s.close();
      await deleteDeviceKeys(secrets, s.profile.profileId);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A cache of `patients` x 100 observations for other benchmarks (the unlock time). */
export async function fillCache(session: CacheSession, patients: number): Promise<void> {
  for (let p = 0; p < patients; p++) {
    await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: `bench-p${p}`, observations: OBS_PER_PATIENT, days: 3650 })));
  }
}
