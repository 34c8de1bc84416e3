/**
 * The device side of the scale benchmark, in a process of its own so that
 * its peak RSS is one device's (main and its store worker thread): opens the
 * empty cache bench/scale-bench.ts just enrolled (keys in the keychain,
 * registered with the backend, as enrollment leaves a device; so this
 * process loads no server module) through openCacheSession, the store in its
 * worker (bundled as the app's, bench/bundle-workers.mjs; encrypted, or the
 * plaintext baseline's worker over a plain file: bench/plain-store-worker.ts),
 * then (1) the first sync of the
 * panel from the backend process (pullChanges) while a thread standing for
 * the renderer asks for a chart every 100 ms, each request served by
 * `chart.open` through the handler registry's dispatch (what
 * the IPC glue calls) for a patient already synced, served by the store's
 * worker as the app runs it; a call's latency counts from when it was due,
 * so the time it waits (for main, busy with a pulled page's reply, or in
 * the worker's queue behind a slice being applied) is in it; (2) the same
 * call with nothing else running; (3) the drain's changes queued (with
 * recordChange and recordChanges: setup, in a process of its own, phase
 * `queue`), then (4) pushed by the sync worker until the outbox is empty
 * (phase `drain`, another process), each reopening the device after every
 * device's first sync (so no device pulls another's pushed changes). Time
 * spent waiting for the backend's answers is counted
 * apart, so what is the device's own is visible. Stops a stage at the cap.
 * Started by bench/scale-bench.ts, bundled as the app's main is
 * (bench/bundle-workers.mjs; under `node --import tsx` when the bench runs
 * without run-bench.sh); prints one JSON line; benchmarks only, asserts
 * nothing.
 */
import { mkdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BackendClient } from '../electron/services/backend-client';
import type { CacheSession } from '../electron/services/cache-session';
import type { CacheStore, StoreArgs, StoreCallName, StoreResults } from '../electron/services/store/store-api';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { outboxSize, recordChange, recordChanges } from '../electron/services/outbox';
import { createOsSecretStore } from '../electron/services/secret-store';
import { pullChanges } from '../electron/services/sync-pull';
import { SyncWorker } from '../electron/services/sync-worker';
import type { FhirResource } from '../shared/contract';
import type { Change, OutgoingChange } from '../shared/sync-api';
import { patientId } from './scale-data';
import { openBenchSession, rssMb } from './scale-workload';
import { ms, round, stats } from './bench-stats';

export interface DeviceJob {
  kind: 'encrypted' | 'plaintext';
  /**
   * `sync`: the device the bench just enrolled (keys in the keychain, registered), its first sync; `queue`: the same
   * device reopened, the drain's changes queued; `drain`: reopened again, those changes pushed.
   */
  phase: 'sync' | 'queue' | 'drain';
  /** The device's session token, from its registration. */
  token: string;
  dataDir: string;
  secretsService: string;
  backendUrl: string;
  clinicianId: string;
  patients: number;
  drain: number;
  idleCalls: number;
  capS: number;
}

const CHART_EVERY_MS = 100;
/** Changes of the drain queued one recordChange each (the rest in batches). */
const QUEUED_ALONE = 1000;
const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const DISPATCH = { trustedOrigins: ['app://clinician'] };
const seconds = (start: bigint) => round(ms(start) / 1000);
const none = { p50_ms: null, p95_ms: null, n: 0 };

class CapReached extends Error {}

/** The backend client the device pulls with, counting what it received and its waits, and stopping at the cap. */
class ObservedClient extends BackendClient {
  resources = 0;
  deadline = Infinity;
  /**
   * Time spent waiting for the backend's answers (request out to answer
   * read; pushes: to reply parsed). The pull asks for the next page while it
   * applies one, so in a first sync this overlaps applying; the drain sends
   * the next push while it settles one, so there it overlaps settling (and
   * the drain's on_device_s is its time with no push on the wire).
   */
  waitingMs = 0;
  requests = 0;

  // The pull's requests (pullAnswer: the answer read, decoded when its turn comes), timed to the answer read.
  override async pullAnswer(...args: Parameters<BackendClient['pullAnswer']>): ReturnType<BackendClient['pullAnswer']> {
    if (performance.now() > this.deadline) throw new CapReached('cap reached');
    const start = performance.now();
    const decode = await super.pullAnswer(...args);
    this.waitingMs += performance.now() - start;
    this.requests++;
    return () => {
      const page = decode();
      this.resources += page.resources.length;
      return page;
    };
  }

  override async push(token: string, changes: ReadonlyArray<Change | OutgoingChange>): ReturnType<BackendClient['push']> {
    const start = performance.now();
    try {
      return await super.push(token, changes);
    } finally {
      this.waitingMs += performance.now() - start;
      this.requests++;
    }
  }
}

/**
 * The device as pullChanges sees it: the Patient resources of each applied
 * slice are noted in `synced` once the store's worker has committed them (a
 * page is applied slice by slice while main serves other calls), so the
 * probe opens only charts already in the cache; each page's apply is timed
 * in `applyMs`, from its first slice's call to its last slice's answer
 * (main's event loop free between slices: probe calls are served meanwhile,
 * so this overlaps handler_total_s). Every call goes to the device's own
 * store unchanged.
 */
function observedDevice(device: CacheSession, synced: string[], applyMs: number[]): Pick<CacheSession, 'store'> {
  let pageStart: number | null = null;
  const store: CacheStore = {
    async call<N extends StoreCallName>(name: N, args: StoreArgs<N>): Promise<StoreResults[N]> {
      if (name === 'applyPullPage') pageStart ??= performance.now();
      const result = await device.store.call(name, args);
      if (name === 'applyPullPage') {
        const slice = args as StoreArgs<'applyPullPage'>;
        for (const r of slice.resources) if (r.resourceType === 'Patient') synced.push(r.id);
        if (slice.last && pageStart !== null) {
          applyMs.push(performance.now() - pageStart);
          pageStart = null;
        }
      }
      return result;
    },
    close: (options) => device.store.close(options),
    get closed() {
      return device.store.closed;
    },
  };
  return { store };
}

/** Milliseconds on the process's one monotonic clock (the same in every thread, unlike performance.now()). */
const clockMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * The renderer's side of the probe, a thread of its own: a request is due
 * every CHART_EVERY_MS from its start, and each one is posted with the time
 * it was due, every one that fell due while the thread could not run
 * included (a starved thread catches up; none is dropped). Its requests
 * reach main as a renderer's IPC messages do, as events arriving between
 * turns of main's loop (an Electron IPC message is a task of its own on
 * main's thread), not as main's own timers: Node runs due timers only after
 * the setImmediate that sends a pull's next slice, which no IPC message
 * waits for.
 */
const RENDERER_TICKS = `
const { parentPort } = require('node:worker_threads');
const clockMs = () => Number(process.hrtime.bigint()) / 1e6;
const start = clockMs();
let n = 1;
const tick = () => {
  for (; start + n * ${CHART_EVERY_MS} <= clockMs(); n++) parentPort.postMessage(start + n * ${CHART_EVERY_MS});
  setTimeout(tick, Math.max(0, start + n * ${CHART_EVERY_MS} - clockMs()));
};
setTimeout(tick, ${CHART_EVERY_MS});
`;

/**
 * `chart.open` through dispatch for each of the renderer thread's requests:
 * when main or the store's worker was busy, every request that came
 * meanwhile is served when they are free, one after the other, in order,
 * and its latency counts from when it was due.
 */
function chartProbe(registry: HandlerRegistry, synced: string[]) {
  const latency: number[] = [];
  const service: number[] = [];
  let notYetSynced = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const due: number[] = [];
  let running: Promise<void> | null = null;
  const serve = async () => {
    for (let dueAt = due.shift(); dueAt !== undefined; dueAt = due.shift()) {
      if (synced.length === 0) {
        notYetSynced++;
        continue;
      }
      const id = synced[Math.floor(Math.random() * synced.length)]!;
      const start = clockMs();
      const reply = await dispatch(registry, 'chart.open', { patientId: id }, APP, DISPATCH);
      const end = clockMs();
      if (!reply.ok) {
        failed++;
        failures[reply.error.code] = (failures[reply.error.code] ?? 0) + 1;
      }
      latency.push(end - dueAt);
      service.push(end - start);
    }
  };
  // One serving loop at a time (it ends with the queue empty; a later request starts the next).
  const pump = () => {
    running ??= serve().finally(() => (running = null));
  };
  const renderer = new Worker(RENDERER_TICKS, { eval: true });
  renderer.on('message', (dueAt: number) => {
    due.push(dueAt);
    pump();
  });
  return {
    async stop() {
      await renderer.terminate();
      await running;
      return {
        calls: latency.length,
        before_first_patient: notYetSynced,
        failed,
        failures,
        latency_from_due: latency.length > 0 ? stats(latency) : none,
        handler_time: service.length > 0 ? stats(service) : none,
        max_latency_ms: round(Math.max(0, ...latency)),
        handler_total_s: round(service.reduce((a, b) => a + b, 0) / 1000),
      };
    },
  };
}

/** `chart.open` through dispatch with nothing else running: the reference for the probe's figures. */
async function idleDispatch(registry: HandlerRegistry, synced: string[], calls: number) {
  const samples: number[] = [];
  for (let i = 0; i < calls && synced.length > 0; i++) {
    const start = performance.now();
    const reply = await dispatch(registry, 'chart.open', { patientId: synced[Math.floor(Math.random() * synced.length)]! }, APP, DISPATCH);
    if (!reply.ok) throw new Error(`bench: chart.open failed: ${reply.error.code}`);
    samples.push(performance.now() - start);
  }
  return samples.length > 0 ? stats(samples) : none;
}

/** The first sync of the panel into an empty device, with the chart.open probe running. */
async function firstSync(device: CacheSession, token: string, job: DeviceJob) {
  const client = new ObservedClient(job.backendUrl, 120_000);
  const registry = createHandlerRegistry({ session: () => device, problem: () => null, actor: () => job.clinicianId });
  const synced: string[] = [];
  const applyMs: number[] = [];
  const probe = chartProbe(registry, synced);
  // How long main's event loop was held at a time (a reply parsed and checked, a slice prepared): a probe call waits for it.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  client.deadline = performance.now() + job.capS * 1000;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let written = 0;
  let capped = false;
  try {
    written = await pullChanges(observedDevice(device, synced, applyMs), client, token);
  } catch (err) {
    if (!(err instanceof CapReached)) throw err;
    capped = true;
  }
  const took = seconds(start);
  const deviceCpu = process.cpuUsage(cpu);
  loop.disable();
  const during = await probe.stop();
  const resources = capped ? client.resources : written;
  const idle = await idleDispatch(registry, synced, job.idleCalls);
  const waiting = round(client.waitingMs / 1000);
  return {
    seconds: took,
    resources,
    patients: synced.length,
    resources_per_s: Math.round(resources / took),
    pages: client.requests,
    // From a request going out to its answer read here (probe calls served meanwhile: it overlaps handler_total_s; the
    // answer is parsed and checked when its turn comes). The next page is asked for while one is applied, so it
    // overlaps applying_s too: seconds minus applying_s is the time nothing was being applied.
    waiting_for_backend_s: waiting,
    device_cpu_s: round((deviceCpu.user + deviceCpu.system) / 1e6),
    // Applying the pulled pages (applyPulledPage): slice calls to the store's worker, main free between them.
    applying_s: round(applyMs.reduce((a, b) => a + b, 0) / 1000),
    apply_per_page: applyMs.length > 0 ? stats(applyMs) : none,
    capped: capped ? `stopped after ${job.capS} s` : false,
    chart_open_during_sync: during,
    main_event_loop_delay: { p50_ms: round(loop.percentile(50) / 1e6), p99_ms: round(loop.percentile(99) / 1e6), max_ms: round(loop.max / 1e6) },
    chart_open_dispatch_idle: idle,
  };
}

function queuedChange(kind: string, i: number, patients: number): FhirResource {
  return {
    resourceType: 'Observation',
    id: `scale-change-${kind}-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: `Patient/${patientId(i % patients)}` },
    effectiveDateTime: new Date(Date.UTC(2026, 10, 26) + i * 1000).toISOString(),
    valueQuantity: { value: 60 + (i % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/**
 * Queues the drain's changes (setup, in a process of its own so the drain's
 * peak RSS is the drain's): QUEUED_ALONE one recordChange each, as a
 * clinician's changes come, timed; the rest a thousand per recordChanges.
 */
async function queue(device: CacheSession, job: DeviceJob) {
  const alone = Math.min(QUEUED_ALONE, job.drain);
  const perChange: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < alone; i++) {
    const one = process.hrtime.bigint();
    await recordChange(device, queuedChange(job.kind, i, job.patients));
    perChange.push(ms(one));
  }
  for (let i = alone; i < job.drain; i += 1000) {
    const batch: FhirResource[] = [];
    for (let k = i; k < Math.min(job.drain, i + 1000); k++) batch.push(queuedChange(job.kind, k, job.patients));
    await recordChanges(device, batch, false);
  }
  return { changes: job.drain, seconds: seconds(start), record_change_alone: perChange.length > 0 ? stats(perChange) : none };
}

/** Pushes the queued changes with the sync worker until the outbox is empty (or the cap). */
async function drain(device: CacheSession, token: string, job: DeviceJob) {
  const client = new ObservedClient(job.backendUrl, 120_000);
  const worker = new SyncWorker({ backend: client, session: () => device, token: () => token, undoSeconds: 0 });
  const deadline = performance.now() + job.capS * 1000;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let capped: string | false = false;
  // The worker's own push loop (one push ahead), stopped at the cap as a lock would stop it.
  if (!(await worker.pushPending(() => performance.now() < deadline))) capped = `stopped after ${job.capS} s`;
  else if ((await outboxSize(device)) > 0) capped = 'the worker pushed nothing with changes still queued';
  const took = seconds(start);
  const deviceCpu = process.cpuUsage(cpu);
  const left = await outboxSize(device);
  const waiting = round(client.waitingMs / 1000);
  return {
    changes: job.drain,
    seconds: took,
    pushed_per_s: Math.round((job.drain - left) / took),
    pushes: client.requests,
    waiting_for_backend_s: waiting,
    on_device_s: round(took - waiting),
    device_cpu_s: round((deviceCpu.user + deviceCpu.system) / 1e6),
    left_in_outbox: left,
    capped,
  };
}

export interface SyncPhase {
  first_sync: Awaited<ReturnType<typeof firstSync>>;
  /** The process with its modules loaded (tsx and the services), before the cache opens. */
  rss_before_open_mb: number;
  rss_mb: number;
  max_rss_mb: number;
}

export interface QueuePhase {
  queue: Awaited<ReturnType<typeof queue>>;
  rss_before_open_mb: number;
  rss_mb: number;
  max_rss_mb: number;
}

export interface DrainPhase {
  drain: Awaited<ReturnType<typeof drain>>;
  rss_before_open_mb: number;
  rss_mb: number;
  max_rss_mb: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as DeviceJob;
mkdirSync(job.dataDir, { recursive: true });
const beforeOpen = rssMb().rss_mb;
const device: CacheSession = await openBenchSession({
  kind: job.kind,
  dataDir: job.dataDir,
  secrets: createOsSecretStore(job.secretsService),
  actor: job.clinicianId,
  create: false,
});
try {
  if (job.phase === 'sync') {
    const figures: SyncPhase = { first_sync: await firstSync(device, job.token, job), rss_before_open_mb: beforeOpen, ...rssMb() };
    process.stdout.write(JSON.stringify(figures) + '\n');
  } else if (job.phase === 'queue') {
    const figures: QueuePhase = { queue: await queue(device, job), rss_before_open_mb: beforeOpen, ...rssMb() };
    process.stdout.write(JSON.stringify(figures) + '\n');
  } else {
    const figures: DrainPhase = { drain: await drain(device, job.token, job), rss_before_open_mb: beforeOpen, ...rssMb() };
    process.stdout.write(JSON.stringify(figures) + '\n');
  }
} finally {
  await device.close();
}
process.exit(0);
