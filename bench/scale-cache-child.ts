/**
 * One point of the scale benchmark's page-cache sizing study, in a process of
 * its own so that its peak RSS is the cache's alone: opens the encrypted
 * cache (through openCacheSession, its key from the keychain) or the
 * plaintext baseline with the page cache given, then times random reads by
 * id and chart opens of random patients, each after a warm-up (reads: enough
 * to fill the page cache), and prints one JSON line. Started by bench/scale-bench.ts with
 * `node --import tsx`; benchmarks only, asserts nothing.
 */
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { createOsSecretStore } from '../electron/services/secret-store';
import { baselineSession, chartOpens, randomReads, rssMb } from './scale-workload';
import { stats } from './bench-stats';

export interface SizingJob {
  kind: 'encrypted' | 'plaintext';
  dataDir: string;
  /** Keychain service of the encrypted cache's keys. */
  secretsService: string;
  cacheKiB: number;
  patients: number;
  reads: number;
  charts: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as SizingJob;
const opened = rssMb();
const session: CacheSession =
  job.kind === 'encrypted'
    ? await openCacheSession({ dataDir: job.dataDir, secrets: createOsSecretStore(job.secretsService), actor: 'dr.scale', create: false, cacheKiB: job.cacheKiB })
    : baselineSession(job.dataDir, 'baseline', job.cacheKiB);
try {
  // Warm-up: enough reads to fill the page cache (three per page it holds, 4 KiB pages), or as many as measured.
  randomReads(session, job.patients, Math.max(job.reads, Math.ceil((3 * job.cacheKiB) / 4)));
  const readsPerS = randomReads(session, job.patients, job.reads);
  await chartOpens(session, job.patients, job.charts); // warm-up
  const chart = stats(await chartOpens(session, job.patients, job.charts));
  process.stdout.write(JSON.stringify({ reads_per_s: readsPerS, chart_open: chart, rss_before_open_mb: opened.rss_mb, ...rssMb() }) + '\n');
} finally {
  session.close();
}
process.exit(0);
