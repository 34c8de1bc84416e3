/**
 * Benchmark of offline sync against the backend on loopback (in-process
 * Fastify over SQLite): first full sync of 50,000 resources into an empty
 * encrypted cache, drain of 10,000 queued changes, and upload of 100,000
 * audit entries, each measured on the backend before issue 8 and on this
 * one in the same run, alternating, several times (medians and the
 * after/before ratio: authorization and server-side auditing must not cost
 * these). Then, on this backend only, the time from the network returning
 * (a TCP proxy coming back up) to the first accepted push. The client is
 * this work tree's in both. Figures only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient } from '../electron/services/backend-client';
import { pullChanges } from '../electron/services/sync-pull';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import type { AuditRecord } from '../electron/services/audit-chain';
import { uploadAuditChain } from '../electron/services/audit-upload';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { createOsSecretStore } from '../electron/services/secret-store';
import { scratchDir } from '../test/support/scratch';
import { startTcpProxy } from '../test/support/tcp-proxy';
import { syntheticPatientBundle } from '../test/support/synthetic-bundles';
import type { BackendVersion, VersionLabel } from './backend-versions';
import { compare, median, ms, round } from './bench-stats';

interface Scale {
  changes: number;
  patients: number;
  auditEntries: number;
}

interface RunFigures {
  full_sync_s: number;
  drain_s: number;
  audit_upload_s: number;
}

const secrets = createOsSecretStore(`org.clinician-desktop.bench.sync.${process.pid}`);

async function openDevice(sessions: CacheSession[], dataDir: string): Promise<CacheSession> {
  const s = await openCacheSession({ dataDir, secrets, actor: 'dr.bench', create: true });
  sessions.push(s);
  return s;
}

/** One run on one backend: a fresh backend and fresh devices, so every run starts from the same state. */
async function syncRun(version: BackendVersion, bundleFiles: string[], scale: Scale): Promise<RunFigures> {
  const dir = scratchDir(`bench-sync-${version.label}`);
  const sessions: CacheSession[] = [];
  const backend = await version.open(join(dir.path, 'backend'));
  try {
    const patientIds = await backend.loadBundles(bundleFiles);
    await backend.addClinician('dr.bench', 'Bench');
    await backend.assignPatients('dr.bench', patientIds);
    const url = await backend.listen(['http://localhost']);
    // A generous timeout: this measures throughput on a shared machine, not the app's patience (its own 10 s).
    const client = new BackendClient(url, 120_000);

    // A device as enrollment leaves it (the ceremony itself is benchmarked elsewhere).
    const device = await openDevice(sessions, join(dir.path, 'device'));
    const token = await backend.registerDevice('dr.bench', device);

    // First full sync into an empty encrypted cache.
    let start = process.hrtime.bigint();
    await pullChanges(device, client, token);
    const fullSync = ms(start) / 1000;

    // Drain queued changes.
    for (let i = 0; i < scale.changes; i++) {
      const patientId = patientIds[i % patientIds.length]!;
      await recordChange(device, { resourceType: 'Observation', id: `bench-change-${i}`, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 70, unit: '/min' } });
    }
    const worker = new SyncWorker({ backend: client, session: () => device, token: () => token });
    start = process.hrtime.bigint();
    await worker.pushPending();
    const drain = ms(start) / 1000;

    // Audit upload of a long chain from a second device.
    const auditor = await openDevice(sessions, join(dir.path, 'auditor'));
    const auditToken = await backend.registerDevice('dr.bench', auditor);
    for (let done = 0; done < scale.auditEntries; done += 10_000) {
      const records: AuditRecord[] = [];
      for (let i = done; i < Math.min(scale.auditEntries, done + 10_000); i++) {
        records.push({ action: 'R', subtype: 'read', patientId: patientIds[i % patientIds.length]!, entities: [], query: null, outcome: '0' });
      }
      await auditor.store.call('appendAudit', { records });
    }
    start = process.hrtime.bigint();
    await uploadAuditChain(auditor, client, auditToken);
    const auditUpload = ms(start) / 1000;
    return { full_sync_s: round(fullSync), drain_s: round(drain), audit_upload_s: round(auditUpload) };
  } finally {
    for (const s of sessions) {
      await s.close();
      await deleteDeviceKeys(secrets, s.profile.profileId);
    }
    await backend.close();
    dir.remove();
  }
}

/** From the network returning to the first accepted push (the worker backs off while the proxy is down). */
async function networkReturn(version: BackendVersion, bundleFiles: string[]): Promise<number> {
  const dir = scratchDir('bench-sync-network');
  const sessions: CacheSession[] = [];
  const backend = await version.open(join(dir.path, 'backend'));
  try {
    const patientIds = await backend.loadBundles(bundleFiles.slice(0, 1));
    await backend.addClinician('dr.bench', 'Bench');
    await backend.assignPatients('dr.bench', patientIds);
    const url = await backend.listen(['http://localhost']);
    const device = await openDevice(sessions, join(dir.path, 'device'));
    const token = await backend.registerDevice('dr.bench', device);
    const proxy = await startTcpProxy(Number(new URL(url).port));
    proxy.down = true;
    const worker = new SyncWorker({ backend: new BackendClient(proxy.url, 2000), session: () => device, token: () => token, maxDelayMs: 2000 });
    await recordChange(device, { resourceType: 'Observation', id: 'bench-after-outage', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patientIds[0]}` } });
    worker.start();
    // Let the worker fail and back off for a while, as it would during an outage.
    await new Promise((r) => setTimeout(r, 5000));
    const back = process.hrtime.bigint();
    proxy.down = false;
    while (await outboxSize(device) > 0) await new Promise((r) => setTimeout(r, 10));
    const seconds = ms(back) / 1000;
    await worker.stop();
    await proxy.close();
    return round(seconds);
  } finally {
    for (const s of sessions) {
      await s.close();
      await deleteDeviceKeys(secrets, s.profile.profileId);
    }
    await backend.close();
    dir.remove();
  }
}

export async function runSyncBench(quick: boolean, versions: BackendVersion[], repetitions: number): Promise<Record<string, unknown>> {
  const factor = quick ? 0.1 : 1;
  const scale: Scale = { changes: Math.round(10_000 * factor), patients: Math.round(500 * factor), auditEntries: Math.round(100_000 * factor) };
  const dir = scratchDir('bench-sync-bundles');
  try {
    // The backend's patients: 100 resources each (a patient, 99 observations), assigned to the clinician.
    mkdirSync(join(dir.path, 'bundles'));
    const bundleFiles = Array.from({ length: scale.patients }, (_, p) => {
      const file = join(dir.path, 'bundles', `p${p}.json`);
      writeFileSync(file, JSON.stringify(syntheticPatientBundle({ patientId: `sync-p${p}`, observations: 99 })));
      return file;
    });

    // Alternate the versions, and which goes first, so drift in a shared machine's load falls on both.
    const runs = new Map<VersionLabel, RunFigures[]>(versions.map((v) => [v.label, []]));
    for (let r = 0; r < repetitions; r++) {
      const order = r % 2 === 0 ? versions : [...versions].reverse();
      for (const version of order) {
        const figures = await syncRun(version, bundleFiles, scale).catch((err: unknown) => {
          throw new Error(`bench: sync run ${r + 1} on the backend ${version.label} failed: ${err instanceof Error ? `${err.name} ${(err as { code?: string }).code ?? ''} ${err.message}` : 'error'}`);
        });
        process.stderr.write(`bench: sync run ${r + 1} ${version.label}: ${JSON.stringify(figures)}\n`);
        runs.get(version.label)!.push(figures);
      }
    }
    const after = versions.find((v) => v.label === 'after')!;
    const networkReturnS = await networkReturn(after, bundleFiles);

    const figure = (key: keyof RunFigures) => {
      const out: Partial<Record<VersionLabel, { median_s: number; runs_s: number[] }>> = {};
      for (const v of versions) {
        const samples = runs.get(v.label)!.map((f) => f[key]);
        out[v.label] = { median_s: median(samples), runs_s: samples };
      }
      return out;
    };
    const fullSync = { resources: scale.patients * 100, ...figure('full_sync_s') };
    const drain = { changes: scale.changes, ...figure('drain_s') };
    const auditUpload = { entries: scale.auditEntries, ...figure('audit_upload_s') };
    const a = (key: keyof RunFigures) => median(runs.get('after')!.map((f) => f[key]));
    return {
      repetitions,
      full_sync: { ...fullSync, ...compare(fullSync) },
      drain: { ...drain, ...compare(drain) },
      audit_upload: { ...auditUpload, ...compare(auditUpload) },
      network_return: { seconds_to_first_accepted_push: networkReturnS },
      targets: {
        drain_10k_under_10s: quick ? `quick run: ${scale.changes} in ${a('drain_s')}s` : a('drain_s') < 10,
        network_return_under_3s: networkReturnS < 3,
        full_sync_50k_under_30s: quick ? `quick run: ${scale.patients * 100} in ${a('full_sync_s')}s` : a('full_sync_s') < 30,
        audit_upload_100k_under_10s: quick ? `quick run: ${scale.auditEntries} in ${a('audit_upload_s')}s` : a('audit_upload_s') < 10,
      },
    };
  } finally {
    dir.remove();
  }
}
