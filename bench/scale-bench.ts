/**
 * Issue 14's scale benchmark: a clinician's full panel (2,000 patients,
 * about 1,000,000 resources; quick mode a tenth) in the encrypted cache, with
 * a plaintext baseline measured in the same run: both opened by
 * openCacheSession with their store in a worker thread, the baseline's
 * worker over a plain better-sqlite3 file (bench/plain-store-worker.ts), so
 * schema, pragmas, page cache, store calls and audit chain are the same and
 * only the encryption differs. Stages, in order:
 *  - the backend's database filled with the panel (bench/scale-backend-load.ts);
 *  - import of the panel, one bundle per patient through importBundle, into
 *    both caches alternately (resources/s, and how long one bundle's import
 *    holds the thread);
 *  - random reads by id (a measurement of the database itself: no store call
 *    reads one resource by id, so they run on the bench's own connection to
 *    each file, same opener and page cache as its worker), chart opens of
 *    random patients (openChart), their Results tab's read of the
 *    observation history (chartResults) and search-as-you-type (a patient's name
 *    typed a letter at a time, one searchPatients per keystroke) through
 *    session.store.call (the worker's round trip included), interleaved
 *    between the two caches;
 *  - the page-cache sizing study: random reads and chart opens at several
 *    cache sizes (BENCH_SCALE_CACHE_MIB, a comma-separated list of MiB within
 *    the policy's bounds; default 8,32,64,128), each in a process of its own
 *    so its RSS is its own (bench/scale-cache-child.ts);
 *  - per device (a new encrypted one, then a new plaintext one), in a process
 *    of its own (bench/scale-device-child.ts): the first sync of the panel
 *    from the real backend process on loopback (SQLite) with `chart.open`
 *    issued every 100 ms through the handler registry's dispatch meanwhile
 *    (served by the store's worker, as the app runs it), then the drain of
 *    queued changes to the same backend.
 * The peak RSS against the target is the encrypted device's process (and
 * the sizing point at the app's default page cache, measured before the
 * bench's own connection opens), RSS being the process's with its store
 * worker thread; this process holds both import caches (their workers and,
 * during the reads, the bench's own connections) and every benchmark's
 * modules, and is reported apart. A stage that would run
 * past CAP_S (BENCH_SCALE_CAP_S, default 900 s) is stopped and says so.
 * Drives the services and the store through their exported functions only
 * (SQL is in scale-workload.ts readById alone). Figures only: asserts nothing.
 * Run by bench/run-all.ts (`--only scale`).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import type { CacheSession } from '../electron/services/cache-session';
import { chartResults, openChart } from '../electron/services/patient-records';
import type { CacheDatabase } from '../electron/services/cache-database';
import { createOsSecretStore } from '../electron/services/secret-store';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { registerDeviceAt } from '../test/support/backend-db';
import { startBackend, type BackendProcess } from '../test/support/backend-process';
import { ROOT } from '../test/support/cache-cli';
import { scratchDir } from '../test/support/scratch';
import { patientId, RESOURCES_PER_PATIENT, scalePatientBundle, typedName } from './scale-data';
import { APP_CACHE_KIB, openBenchSession, openOwnConnection, randomReads, rssMb, STORE_WORKER } from './scale-workload';
import type { SizingJob } from './scale-cache-child';
import type { DeviceJob, DrainPhase, QueuePhase, SyncPhase } from './scale-device-child';
import { ms, round, stats } from './bench-stats';
import { PAGE_CACHE_MIB_MAX, PAGE_CACHE_MIB_MIN } from '../electron/services/page-cache-policy';

interface Sizes {
  patients: number;
  reads: number;
  charts: number;
  /** Patients whose names are typed into the search box. */
  typedNames: number;
  drain: number;
  sizingReads: number;
  sizingCharts: number;
  idleCalls: number;
}

/** A stage that would run longer than this is stopped and reported as capped. */
const CAP_S = Number(process.env.BENCH_SCALE_CAP_S ?? 900);
/** The page-cache sizes of the sizing study, in MiB (BENCH_SCALE_CACHE_MIB=32,64 while investigating). */
const CACHE_SIZES_MIB = cacheSizesMib(process.env.BENCH_SCALE_CACHE_MIB);

function cacheSizesMib(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [8, 16, 32, 64, 128];
  const sizes = text.split(',').map((t) => Number(t.trim()));
  if (sizes.some((m) => !Number.isInteger(m) || m < PAGE_CACHE_MIB_MIN || m > PAGE_CACHE_MIB_MAX)) {
    throw new Error(`bench: BENCH_SCALE_CACHE_MIB must be whole numbers of MiB from ${PAGE_CACHE_MIB_MIN} to ${PAGE_CACHE_MIB_MAX}, comma-separated`);
  }
  return sizes;
}
const CLINICIAN = 'dr.scale';

/** The panel's size against full (BENCH_SCALE_FACTOR overrides it while investigating: 0.01 is 20 patients). */
function sizesFor(quick: boolean): Sizes {
  const f = Number(process.env.BENCH_SCALE_FACTOR ?? (quick ? 0.1 : 1));
  return {
    patients: Math.round(2000 * f),
    reads: Math.round(200_000 * f),
    charts: Math.round(2000 * f),
    typedNames: Math.round(100 * f),
    drain: Math.round(100_000 * f),
    sizingReads: Math.round(100_000 * f),
    sizingCharts: Math.round(500 * f),
    idleCalls: Math.round(500 * f),
  };
}

const log = (message: string) => process.stderr.write(`bench scale: ${message}\n`);
const seconds = (start: bigint) => round(ms(start) / 1000);
const bundleFile = (dir: string, index: number) => join(dir, `p${String(index).padStart(5, '0')}.json`);

/** CPU seconds the backend process has used so far (user + system, from /proc; Linux only, 0 elsewhere). */
function backendCpuS(backend: BackendProcess): number {
  try {
    const fields = readFileSync(`/proc/${backend.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * How a helper script runs: the device process bundled as the app's main is
 * (bench/bundle-workers.mjs, when the bench runs through run-bench.sh), so
 * its RSS holds no tsx loader; the others from their .ts sources under tsx.
 */
function helperArgs(script: string): string[] {
  if (script === 'scale-device-child.ts' && process.env.BENCH_STORE_WORKERS) return [join(process.env.BENCH_STORE_WORKERS, 'scale-device-child.mjs')];
  return ['--import', 'tsx', join(ROOT, 'bench', script)];
}

/**
 * Runs a benchmark helper script in a process of its own without blocking
 * this thread (the backend process's output pipes are read here, and a
 * blocked reader would stall its logging); returns the JSON line it prints.
 */
function runScriptAsync<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...helperArgs(script), ...args],
      { cwd: ROOT, env: process.env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 3 * CAP_S * 1000 },
      (err, stdout, stderr) => {
        if (stderr) process.stderr.write(stderr);
        if (err) reject(new Error(`bench: ${script} failed (${err.code ?? err.signal ?? err.message})`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as T);
      },
    );
  });
}

/** Runs a benchmark helper script in a process of its own; returns the JSON line it prints. */
function runScript<T>(script: string, args: string[]): T {
  const r = spawnSync(process.execPath, [...helperArgs(script), ...args], {
    cwd: ROOT,
    env: process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
    timeout: CAP_S * 1000,
  });
  if (r.status !== 0) throw new Error(`bench: ${script} failed (${r.status ?? r.signal ?? r.error?.message})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** Imports every patient's bundle into both caches, alternating which goes first. */
async function importPanel(sessions: [CacheSession, CacheSession], bundles: string, sizes: Sizes) {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < sizes.patients; i++) {
    const text = readFileSync(bundleFile(bundles, i), 'utf8');
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const start = process.hrtime.bigint();
      await importBundle(sessions[k]!, text);
      times[k]!.push(ms(start));
    }
    if (i % 200 === 199) log(`imported ${i + 1} patients`);
  }
  const figure = (t: number[]) => {
    const total = t.reduce((a, b) => a + b, 0) / 1000;
    return { seconds: round(total), resources_per_s: Math.round((sizes.patients * RESOURCES_PER_PATIENT) / total), per_bundle: stats(t) };
  };
  const [enc, plain] = [figure(times[0]), figure(times[1])];
  return { encrypted: enc, plaintext: plain, ratio: round(enc.seconds / plain.seconds) };
}

/**
 * Random reads in blocks on the bench's own connections (encrypted,
 * plaintext), alternating the caches block by block (after a warm-up of the
 * same size).
 */
function readsFigure(connections: [CacheDatabase, CacheDatabase], sizes: Sizes) {
  const block = 2000;
  const elapsed = [0, 0];
  for (const warm of [true, false]) {
    for (let b = 0; b < sizes.reads / block; b++) {
      for (const k of b % 2 === 0 ? [0, 1] : [1, 0]) {
        const rate = randomReads(connections[k]!, sizes.patients, block);
        if (!warm) elapsed[k]! += block / rate;
      }
    }
  }
  const [enc, plain] = elapsed.map((s) => Math.round(sizes.reads / s!)) as [number, number];
  return { reads: sizes.reads, via: "the bench's own connection to each file (no store call reads by id), same opener and page cache as its worker", encrypted: { reads_per_s: enc }, plaintext: { reads_per_s: plain }, ratio: round(plain / enc) };
}

/** A read of a random patient's chart (`read`), the same patient in both caches each round: per-call times. */
async function chartReadFigure(sessions: [CacheSession, CacheSession], sizes: Sizes, read: (s: CacheSession, id: string) => Promise<unknown>, via: string) {
  const samples: [number[], number[]] = [[], []];
  for (let i = 0; i < sizes.charts + 50; i++) {
    const index = Math.floor(Math.random() * sizes.patients);
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const start = process.hrtime.bigint();
      await read(sessions[k]!, patientId(index));
      if (i >= 50) samples[k]!.push(ms(start)); // the first 50 rounds warm up
    }
  }
  const [enc, plain] = [stats(samples[0]), stats(samples[1])];
  return { opens: sizes.charts, via, encrypted: enc, plaintext: plain, ratio_p50: round(enc.p50_ms / plain.p50_ms), ratio_p95: round(enc.p95_ms / plain.p95_ms) };
}

/** Each of `typedNames` patients' names ("family given") typed one letter at a time: one search per keystroke. */
async function searchFigure(sessions: [CacheSession, CacheSession], sizes: Sizes) {
  const samples: [number[], number[]] = [[], []];
  const firstLetter: [number[], number[]] = [[], []];
  let keystrokes = 0;
  let shown = 0;
  for (let n = 0; n < sizes.typedNames; n++) {
    const name = typedName(Math.floor((n * sizes.patients) / sizes.typedNames));
    for (let len = 1; len <= name.length; len++) {
      const query = name.slice(0, len);
      keystrokes++;
      for (const k of keystrokes % 2 === 0 ? [0, 1] : [1, 0]) {
        const start = process.hrtime.bigint();
        const found = await sessions[k]!.store.call('searchPatients', { query });
        const t = ms(start);
        samples[k]!.push(t);
        if (len === 1) firstLetter[k]!.push(t);
        if (k === 0) shown += found.patients.length;
      }
    }
  }
  const [enc, plain] = [stats(samples[0]), stats(samples[1])];
  return {
    names_typed: sizes.typedNames,
    keystrokes,
    mean_patients_shown: round(shown / keystrokes, 1),
    encrypted: enc,
    plaintext: plain,
    first_letter: { encrypted: stats(firstLetter[0]), plaintext: stats(firstLetter[1]) },
    ratio_p95: round(enc.p95_ms / plain.p95_ms),
  };
}

/** Random reads and chart opens at each page-cache size, each point in a fresh process (closed caches in `dirs`). */
function sizingStudy(dirs: { encrypted: string; plaintext: string }, secretsService: string, sizes: Sizes) {
  const points: Array<Record<string, unknown>> = [];
  for (const mib of CACHE_SIZES_MIB) {
    const row: Record<string, unknown> = { cache_mib: mib };
    for (const kind of ['encrypted', 'plaintext'] as const) {
      const job: SizingJob = { kind, dataDir: dirs[kind], secretsService, cacheKiB: mib * 1024, patients: sizes.patients, reads: sizes.sizingReads, charts: sizes.sizingCharts };
      row[kind] = runScript('scale-cache-child.ts', [JSON.stringify(job)]);
    }
    const enc = row.encrypted as { reads_per_s: number; chart_open: { p95_ms: number } };
    const plain = row.plaintext as { reads_per_s: number; chart_open: { p95_ms: number } };
    row.reads_ratio = round(plain.reads_per_s / enc.reads_per_s);
    row.chart_p95_ratio = round(enc.chart_open.p95_ms / plain.chart_open.p95_ms);
    log(`sizing ${mib} MiB: ${JSON.stringify(row)}`);
    points.push(row);
  }
  return { reads_per_point: sizes.sizingReads, charts_per_point: sizes.sizingCharts, note: 'each point a fresh process: warm-up then measure; max_rss_mb is that process\'s peak', points };
}

export async function runScaleBench(quick: boolean): Promise<Record<string, unknown>> {
  const sizes = sizesFor(quick);
  const dir = scratchDir('bench-scale');
  const secretsService = `org.clinician-desktop.bench.scale.${process.pid}`;
  const secrets = createOsSecretStore(secretsService);
  const profiles: string[] = [];
  const memory: Record<string, unknown> = {};
  let backend: BackendProcess | null = null;
  const opened: CacheSession[] = [];
  const connections: CacheDatabase[] = [];
  const started = process.hrtime.bigint();
  try {
    // The panel as one bundle file per patient (the backend loads them; the caches import them).
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    memory.at_start = rssMb();
    const start = process.hrtime.bigint();
    for (let i = 0; i < sizes.patients; i++) writeFileSync(bundleFile(bundles, i), scalePatientBundle(i));
    log(`generated ${sizes.patients} bundles in ${seconds(start)} s`);
    const backendDir = join(dir.path, 'backend');
    const load = runScript<{ patients: number; seconds: number }>('scale-backend-load.ts', [backendDir, bundles, CLINICIAN]);
    log(`backend loaded ${load.patients} patients in ${load.seconds} s`);

    // Import, reads, chart opens and search in the encrypted cache and the plaintext baseline.
    const encDir = join(dir.path, 'encrypted');
    const plainDir = join(dir.path, 'plaintext');
    const enc = await openBenchSession({ kind: 'encrypted', dataDir: encDir, secrets, actor: CLINICIAN, create: true, cacheKiB: APP_CACHE_KIB });
    opened.push(enc);
    profiles.push(enc.profile.profileId);
    const plain = await openBenchSession({ kind: 'plaintext', dataDir: plainDir, secrets, actor: CLINICIAN, create: true, cacheKiB: APP_CACHE_KIB });
    opened.push(plain);
    profiles.push(plain.profile.profileId);
    const pair: [CacheSession, CacheSession] = [enc, plain];
    memory.after_open = rssMb();
    const importFigure = await importPanel(pair, bundles, sizes);
    memory.after_import = rssMb();
    log(`import ${JSON.stringify(importFigure)}`);
    // Reads by id on the bench's own connection to each file (closed in finally if a stage throws).
    connections.push(await openOwnConnection(enc, 'encrypted', secrets, APP_CACHE_KIB));
    connections.push(await openOwnConnection(plain, 'plaintext', secrets, APP_CACHE_KIB));
    const reads = readsFigure([connections[0]!, connections[1]!], sizes);
    log(`reads ${JSON.stringify(reads)}`);
    for (const db of connections) db.close();
    connections.length = 0;
    const chart = await chartReadFigure(pair, sizes, openChart, "patient-records openChart (the worker's round trip and main's parse of the answer included)");
    log(`chart ${JSON.stringify(chart)}`);
    // The Results tab's read of the observation history (no target: reported beside the chart's).
    const results = await chartReadFigure(pair, sizes, chartResults, "patient-records chartResults (the worker's round trip and main's parse of the answer included)");
    log(`results tab ${JSON.stringify(results)}`);
    const search = await searchFigure(pair, sizes);
    log(`search ${JSON.stringify(search)}`);
    memory.after_reads = rssMb();
    await Promise.all(opened.map((s) => s.close()));
    opened.length = 0;

    const sizing = sizingStudy({ encrypted: encDir, plaintext: plainDir }, secretsService, sizes);
    rmSync(plainDir, { recursive: true, force: true });

    // First sync from the backend process, then the drain, on a new encrypted device and a new plaintext one.
    // Served from the database filled above: the process loads no bundle of its own (an empty folder).
    const noBundles = join(dir.path, 'no-bundles');
    mkdirSync(noBundles);
    backend = await startBackend({
      dataDir: backendDir,
      origins: ['http://localhost'],
      bundles: [noBundles],
      flags: ['--rate-limit-device', '100000000', '--rate-limit-upload', '100000000', '--rate-limit-ip', '100000000'],
    });
    rmSync(bundles, { recursive: true, force: true });
    // Both first syncs before either drain: no device pulls the changes another pushed.
    const job = (kind: DeviceJob['kind'], phase: DeviceJob['phase'], token = ''): DeviceJob => ({
      kind,
      phase,
      token,
      dataDir: join(dir.path, `device-${kind}`),
      secretsService,
      backendUrl: backend!.url,
      clinicianId: CLINICIAN,
      patients: sizes.patients,
      drain: sizes.drain,
      idleCalls: sizes.idleCalls,
      capS: CAP_S,
    });
    // Enrolled here, as enrollment leaves a device (its keys in the keychain, registered with the backend), so the
    // device process loads no server module and holds no backend connection: its RSS is the app's side only.
    const enroll = async (kind: DeviceJob['kind']) => {
      const device = await openBenchSession({ kind, dataDir: job(kind, 'sync').dataDir, secrets, actor: CLINICIAN, create: true });
      profiles.push(device.profile.profileId);
      try {
        return await registerDeviceAt({ dataDir: backendDir, databaseUrl: undefined }, CLINICIAN, device);
      } finally {
        await device.close();
      }
    };
    const syncOf = async (kind: DeviceJob['kind']) => {
      const token = await enroll(kind);
      const cpu = backendCpuS(backend!);
      const figures = await runScriptAsync<SyncPhase>('scale-device-child.ts', [JSON.stringify(job(kind, 'sync', token))]);
      Object.assign(figures.first_sync, { backend_cpu_s: round(backendCpuS(backend!) - cpu) });
      log(`first sync ${kind}: ${JSON.stringify(figures.first_sync)}`);
      return { ...figures, token };
    };
    // The changes are queued in a process of their own (setup: most a thousand per call), then pushed from another,
    // so the drain's peak RSS is the drain's; the queueing process's peak is reported beside it.
    const drainOf = async (kind: DeviceJob['kind'], token: string) => {
      const queued = await runScriptAsync<QueuePhase>('scale-device-child.ts', [JSON.stringify(job(kind, 'queue', token))]);
      const cpu = backendCpuS(backend!);
      const figures = await runScriptAsync<DrainPhase>('scale-device-child.ts', [JSON.stringify(job(kind, 'drain', token))]);
      const drain = { ...figures.drain, queue_seconds: queued.queue.seconds, record_change_alone: queued.queue.record_change_alone, backend_cpu_s: round(backendCpuS(backend!) - cpu) };
      log(`drain ${kind}: ${JSON.stringify(drain)}`);
      return { ...figures, drain, queue_max_rss_mb: queued.max_rss_mb };
    };
    const syncPhaseEnc = await syncOf('encrypted');
    const syncPhasePlain = await syncOf('plaintext');
    const drainPhaseEnc = await drainOf('encrypted', syncPhaseEnc.token);
    const drainPhasePlain = await drainOf('plaintext', syncPhasePlain.token);
    const [syncEnc, syncPlain, drainEnc, drainPlain] = [syncPhaseEnc.first_sync, syncPhasePlain.first_sync, drainPhaseEnc.drain, drainPhasePlain.drain];
    const rssOf = (sync: SyncPhase, drained: DrainPhase & { queue_max_rss_mb: number }) => ({
      first_sync_max_rss_mb: sync.max_rss_mb,
      drain_max_rss_mb: drained.max_rss_mb,
      queue_setup_max_rss_mb: drained.queue_max_rss_mb,
      before_open_rss_mb: { first_sync: sync.rss_before_open_mb, drain: drained.rss_before_open_mb },
    });
    memory.after_devices = rssMb();
    const benchPeakMb = Math.round(process.resourceUsage().maxRSS / 1024);
    const sizingApp = sizing.points.find((p) => p.cache_mib === APP_CACHE_KIB / 1024)?.encrypted as { max_rss_mb: number } | undefined;
    // The app's peak: one encrypted cache's process (the device through first sync and drain; the sizing point at the app's page cache, when measured).
    const peakRssMb = Math.max(syncPhaseEnc.max_rss_mb, drainPhaseEnc.max_rss_mb, sizingApp?.max_rss_mb ?? 0);

    const during = syncEnc.chart_open_during_sync;
    const full = !quick;
    return {
      bench: 'scale',
      mode: quick ? 'quick' : 'full',
      factor: sizes.patients / 2000,
      node: process.version,
      sizes: { resources: sizes.patients * RESOURCES_PER_PATIENT, resources_per_patient: RESOURCES_PER_PATIENT, app_cache_mib: APP_CACHE_KIB / 1024, store_workers: STORE_WORKER.how, cap_s: CAP_S, ...sizes },
      backend_load: load,
      import: importFigure,
      random_reads: reads,
      chart_open: chart,
      results_tab: results,
      search_as_you_type: search,
      cache_sizing: sizing,
      first_sync: { encrypted: syncEnc, plaintext: syncPlain, ratio: round(syncEnc.seconds / syncPlain.seconds) },
      drain: { encrypted: drainEnc, plaintext: drainPlain, ratio: round(drainEnc.seconds / drainPlain.seconds) },
      memory: {
        note: 'peak_rss_mb is the largest of the encrypted device processes (first sync; drain: main and its store worker thread, both bundled as the app\'s (main under tsx when the bench runs without run-bench.sh); the device was enrolled and registered by the bench process (scale-bench.ts), and the drain\'s changes queued by a process of their own, queue_setup_max_rss_mb; before_open_rss_mb is that process before its cache opened) and the encrypted sizing process at the app\'s page cache; bench_process holds both caches of the import stage (their workers) and run-all.ts\'s modules',
        device_encrypted: rssOf(syncPhaseEnc, drainPhaseEnc),
        device_plaintext: rssOf(syncPhasePlain, drainPhasePlain),
        bench_process: { ...memory, max_rss_mb: benchPeakMb },
      },
      peak_rss_mb: peakRssMb,
      targets: {
        chart_open_p95_under_2ms: chart.encrypted.p95_ms < 2,
        chart_open_within_1_5x_plaintext: chart.ratio_p95 <= 1.5 && chart.ratio_p50 <= 1.5,
        random_reads_within_1_5x_plaintext: reads.ratio <= 1.5,
        search_as_you_type_p95_under_20ms: search.encrypted.p95_ms < 20,
        first_sync_1m_under_60s: full && !syncEnc.capped ? syncEnc.seconds < 60 : `${quick ? 'quick run' : 'capped'}: ${syncEnc.resources} in ${syncEnc.seconds}s`,
        drain_100k_under_10s: full && !drainEnc.capped ? drainEnc.seconds < 10 : `${quick ? 'quick run' : 'capped'}: ${drainEnc.changes - drainEnc.left_in_outbox} in ${drainEnc.seconds}s`,
        chart_open_during_first_sync_p95_under_50ms: during.latency_from_due.p95_ms !== null && during.latency_from_due.p95_ms < 50,
        peak_rss_under_300mb: peakRssMb < 300,
      },
      seconds: seconds(started),
    };
  } finally {
    for (const db of connections) if (db.open) db.close();
    for (const s of opened) await s.close();
    for (const p of profiles) await deleteDeviceKeys(secrets, p).catch(() => undefined);
    await backend?.dispose();
    dir.remove();
  }
}
