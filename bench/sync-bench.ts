/**
 * Benchmark of offline sync against the backend on loopback (in-process
 * Fastify over SQLite, the same code as the backend process): drain 10,000
 * queued changes, time from the network returning (a TCP proxy coming back
 * up) to the first accepted push, first full sync of 50,000 resources into
 * an empty encrypted cache, and upload of 100,000 audit entries. Figures only.
 */
import { join } from 'node:path';
import { buildApp } from '../server/app';
import { loadReceiptKey } from '../server/audit/audit-ledger';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { openBackendDb, registerDevice } from '../test/support/backend-db';
import { loadBundles } from '../server/sync/patient-store';
import { RelyingParty } from '../server/auth/relying-party';
import { BackendClient } from '../electron/services/backend-client';
import { pullChanges } from '../electron/services/sync-pull';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import { uploadAuditChain } from '../electron/services/audit-upload';
import { deleteDeviceKeys } from '../electron/services/device-keys';
import { createOsSecretStore } from '../electron/services/secret-store';
import { scratchDir } from '../test/support/scratch';
import { startTcpProxy } from '../test/support/tcp-proxy';
import { syntheticPatientBundle } from '../test/support/synthetic-bundles';
import { writeFileSync, mkdirSync } from 'node:fs';
import { ms, round } from './bench-stats';

export async function runSyncBench(quick: boolean): Promise<Record<string, unknown>> {
  const scale = quick ? 0.1 : 1;
  const CHANGES = Math.round(10_000 * scale);
  const FULL_SYNC_PATIENTS = Math.round(500 * scale);
  const AUDIT_ENTRIES = Math.round(100_000 * scale);
  const dir = scratchDir('bench-sync');
  const secrets = createOsSecretStore(`org.clinician-desktop.bench.sync.${process.pid}`);
  const clock = () => new Date();
  const { db, close: closeDb } = await openBackendDb('sqlite', join(dir.path, 'backend'));
  const sessions: CacheSession[] = [];
  const open = async (name: string) => {
    const s = await openCacheSession({ dataDir: join(dir.path, name), secrets, actor: 'dr.bench', create: true });
    sessions.push(s);
    return s;
  };
  try {
    // The backend's patients: 100 observations each, assigned to the clinician.
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    const files = Array.from({ length: FULL_SYNC_PATIENTS }, (_, p) => {
      const file = join(bundles, `p${p}.json`);
      writeFileSync(file, JSON.stringify(syntheticPatientBundle({ patientId: `sync-p${p}`, observations: 99 })));
      return file;
    });
    const patientIds = await loadBundles(db, files);
    await addClinician(db, 'dr.bench', 'Bench', clock);
    await assignPatients(db, 'dr.bench', patientIds);
    const app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'B', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(join(dir.path, 'backend')) });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(url).port);

    // A device as enrollment leaves it (the ceremony itself is benchmarked elsewhere).
    const device = await open('device');
    const token = await registerDevice(db, 'dr.bench', device);
    const client = new BackendClient(url);

    // First full sync into an empty encrypted cache.
    let start = process.hrtime.bigint();
    await pullChanges(device, client, token);
    const fullSync = { resources: FULL_SYNC_PATIENTS * 100, seconds: round(ms(start) / 1000) };

    // Drain queued changes.
    for (let i = 0; i < CHANGES; i++) {
      const patientId = patientIds[i % patientIds.length]!;
      recordChange(device, { resourceType: 'Observation', id: `bench-change-${i}`, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 70, unit: '/min' } });
    }
    const worker = new SyncWorker({ backend: client, session: () => device, token: () => token });
    start = process.hrtime.bigint();
    while (outboxSize(device) > 0) await worker.pushOnce();
    const drain = { changes: CHANGES, seconds: round(ms(start) / 1000) };

    // The network returns: the worker, backing off while the proxy is down, pushes within its retry cap.
    const proxy = await startTcpProxy(port);
    proxy.down = true;
    const offlineWorker = new SyncWorker({ backend: new BackendClient(proxy.url, 2000), session: () => device, token: () => token, maxDelayMs: 2000 });
    recordChange(device, { resourceType: 'Observation', id: 'bench-after-outage', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patientIds[0]}` } });
    offlineWorker.start();
    await new Promise((r) => setTimeout(r, 5000));
    const back = process.hrtime.bigint();
    proxy.down = false;
    while (outboxSize(device) > 0) await new Promise((r) => setTimeout(r, 10));
    const networkReturn = { seconds_to_first_accepted_push: round(ms(back) / 1000) };
    await offlineWorker.stop();
    await proxy.close();

    // Audit upload of a long chain from a second device.
    const auditor = await open('auditor');
    const auditToken = await registerDevice(db, 'dr.bench', auditor);
    for (let done = 0; done < AUDIT_ENTRIES; done += 10_000) {
      auditor.audited(() => {
        for (let i = done; i < Math.min(AUDIT_ENTRIES, done + 10_000); i++) {
          auditor.audit.append({ action: 'R', subtype: 'read', patientId: patientIds[i % patientIds.length]!, entities: [], query: null, outcome: '0' });
        }
      });
    }
    start = process.hrtime.bigint();
    await uploadAuditChain(auditor, client, auditToken);
    const auditUpload = { entries: AUDIT_ENTRIES, seconds: round(ms(start) / 1000) };
    await app.close();

    return {
      drain,
      network_return: networkReturn,
      full_sync: fullSync,
      audit_upload: auditUpload,
      targets: {
        drain_10k_under_10s: quick ? `quick run: ${CHANGES} in ${drain.seconds}s` : drain.seconds < 10,
        network_return_under_3s: networkReturn.seconds_to_first_accepted_push < 3,
        full_sync_50k_under_30s: quick ? `quick run: ${fullSync.resources} in ${fullSync.seconds}s` : fullSync.seconds < 30,
        audit_upload_100k_under_10s: quick ? `quick run: ${AUDIT_ENTRIES} in ${auditUpload.seconds}s` : auditUpload.seconds < 10,
      },
    };
  } finally {
    for (const s of sessions) {
      s.close();
      await deleteDeviceKeys(secrets, s.profile.profileId);
    }
    await closeDb();
    dir.remove();
  }
}
