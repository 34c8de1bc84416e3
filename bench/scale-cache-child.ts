/**
 * One point of the scale benchmark's page-cache sizing study, in a process of
 * its own so that its peak RSS is the cache's alone: opens the encrypted
 * cache or the plaintext baseline (both through openCacheSession, keys from
 * the keychain, the store in its worker; the baseline's worker over a plain
 * file) with the page cache given, then (1) chart opens of random patients
 * through the store, after a warm-up that opens every patient's chart once
 * (filling the worker's page cache as the app would), and the process's
 * peak RSS at that point (the app's: main and its store worker); (2) random
 * reads by id on the bench's own connection to the file (no store call reads
 * by id; same opener and page cache), after a warm-up of enough reads to fill
 * its page cache. Prints one JSON line. Started by bench/scale-bench.ts with
 * `node --import tsx`; benchmarks only, asserts nothing.
 */
import type { CacheSession } from '../electron/services/cache-session';
import { openChart } from '../electron/services/patient-records';
import { createOsSecretStore } from '../electron/services/secret-store';
import { patientId } from './scale-data';
import { chartOpens, openBenchSession, openOwnConnection, randomReads, rssMb } from './scale-workload';
import { stats } from './bench-stats';

export interface SizingJob {
  kind: 'encrypted' | 'plaintext';
  dataDir: string;
  /** Keychain service of the caches' keys. */
  secretsService: string;
  cacheKiB: number;
  patients: number;
  reads: number;
  charts: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as SizingJob;
const secrets = createOsSecretStore(job.secretsService);
const beforeOpen = rssMb();
const session: CacheSession = await openBenchSession({ kind: job.kind, dataDir: job.dataDir, secrets, actor: 'dr.scale', create: false, cacheKiB: job.cacheKiB });
try {
  // Warm-up: every patient's chart once, in a random order, then as many random ones as are measured.
  const order = Array.from({ length: job.patients }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const i of order) await openChart(session, patientId(i));
  await chartOpens(session, job.patients, job.charts);
  const chart = stats(await chartOpens(session, job.patients, job.charts));
  const app = rssMb();
  const db = await openOwnConnection(session, job.kind, secrets, job.cacheKiB);
  let readsPerS: number;
  try {
    // Warm-up: enough reads to fill the page cache (three per page it holds, 4 KiB pages), or as many as measured.
    randomReads(db, job.patients, Math.max(job.reads, Math.ceil((3 * job.cacheKiB) / 4)));
    readsPerS = randomReads(db, job.patients, job.reads);
  } finally {
    db.close();
  }
  const withOwn = rssMb();
  process.stdout.write(
    JSON.stringify({
      reads_per_s: readsPerS,
      reads_via: "the bench's own connection (same opener and page cache as the worker)",
      chart_open: chart,
      rss_before_open_mb: beforeOpen.rss_mb,
      // The app's figures: main and the store worker, before the bench's own connection opened.
      rss_mb: app.rss_mb,
      max_rss_mb: app.max_rss_mb,
      max_rss_with_own_connection_mb: withOwn.max_rss_mb,
    }) + '\n',
  );
} finally {
  await session.close();
}
process.exit(0);
