/**
 * The backend audits what it serves, through its real routes (SQLite and
 * PostgreSQL): a single-resource GET and each pull page append AuditEvents
 * naming the clinician, the requesting device and the resources disclosed to
 * the server chain; a refused GET discloses nothing and appends no read; the
 * patient's trail shows the backend's events beside the devices'; and the
 * chain stays whole.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { loadReceiptKey } from './support/receipt-key';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { bundleFiles, loadBundles } from '../server/sync/patient-store';
import { RelyingParty } from '../server/auth/relying-party';
import { PULL_PATH } from '../shared/sync-api';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice } from './support/signed-audit-chain';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const MINE = 'disclosed-mine';
const OTHERS = 'disclosed-others';

interface EventJson {
  action: string;
  agent: Array<{ who: { identifier: { value: string } }; network?: { address: string } }>;
  source: { observer: { identifier: { value: string } } };
  entity: Array<{ what?: { reference: string } }>;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the backend audits what it serves, on ${engine}`, () => {
    const dir = scratchDir('audit-disclosures');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    let token: string;
    const device = new HandBuiltDevice('dr.served');
    const clock = () => new Date();

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'mine.json'), JSON.stringify(syntheticPatientBundle({ patientId: MINE, observations: 3 })));
      writeFileSync(join(bundles, 'others.json'), JSON.stringify(syntheticPatientBundle({ patientId: OTHERS, observations: 3 })));
      await loadBundles(db, bundleFiles([bundles]));
      await addClinician(db, 'dr.served', 'Dr Served', clock);
      await assignPatients(db, 'dr.served', [MINE]);
      token = await device.register(db);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    const get = (path: string) => fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    const events = async () =>
      (await db.selectFrom('disclosure_events').select(['seq', 'patient_id', 'event']).orderBy('seq').execute()).map((r) => ({ patientId: r.patient_id, event: JSON.parse(r.event) as EventJson }));
    const observationOf = async (patientId: string) =>
      (await db.selectFrom('resources').select('id').where('resource_type', '=', 'Observation').where('patient_id', '=', patientId).orderBy('id').executeTakeFirstOrThrow()).id;

    test('a pull page appends one query event per patient served, naming every resource sent', async () => {
      const r = await get(PULL_PATH);
      assert.equal(r.status, 200);
      const page = (await r.json()) as { resources: Array<{ resourceType: string; id: string }> };
      const all = await events();
      assert.equal(all.length, 1);
      assert.equal(all[0]!.patientId, MINE);
      const { event } = all[0]!;
      assert.equal(event.action, 'E');
      assert.equal(event.agent[0]!.who.identifier.value, 'dr.served');
      assert.equal(event.agent[1]!.network?.address, `urn:uuid:${device.id}`);
      assert.equal(event.source.observer.identifier.value, 'clinician-backend');
      const named = new Set(event.entity.map((e) => e.what?.reference).filter(Boolean));
      for (const res of page.resources) assert.ok(named.has(`${res.resourceType}/${res.id}`), 'every resource served is named');
      assert.ok(!JSON.stringify(all).includes(OTHERS), 'nothing of a patient not served');
    });

    test("a GET appends a read of that resource; a refused GET of another clinician's patient appends no read", async () => {
      const before = (await events()).length;
      const mine = await observationOf(MINE);
      assert.equal((await get(`/v1/fhir/Observation/${mine}`)).status, 200);
      const after = await events();
      assert.equal(after.length, before + 1);
      assert.equal(after.at(-1)!.event.action, 'R');
      assert.ok(after.at(-1)!.event.entity.some((e) => e.what?.reference === `Observation/${mine}`));

      assert.equal((await get(`/v1/fhir/Observation/${await observationOf(OTHERS)}`)).status, 404);
      const reads = (await events()).filter((e) => e.patientId === OTHERS && e.event.action === 'R' && (e.event as unknown as { outcome: string }).outcome === '0');
      assert.equal(reads.length, 0, 'no successful read recorded for what was not served');
    });

    test("the patient's trail shows the backend's events, and the chain is whole", async () => {
      const r = await get(`/v1/audit/patients/${MINE}`);
      assert.equal(r.status, 200);
      const trail = (await r.json()) as { events: EventJson[] };
      const served = trail.events.filter((e) => e.source.observer.identifier.value === 'clinician-backend');
      assert.deepEqual(served.map((e) => e.action).sort(), ['E', 'R'], 'the pull page and the GET (the view itself comes after the read)');
      assert.deepEqual(await verifyDisclosureChain(db), { ok: true, entries: (await events()).length });
    });
  });
}
