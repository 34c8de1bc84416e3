/**
 * Uploaded audit entries are checked against the session and the assignment
 * history (SQLite and PostgreSQL): every entry's actor is the session's
 * clinician, its device the session's device, and every patient it names one
 * the clinician was assigned when the entry was recorded; otherwise the whole
 * upload is refused, nothing is stored and a security event is logged. Work
 * recorded while a patient was assigned still uploads after the assignment
 * ended (offline work), and so does the device's removal of that patient.
 * A patient is found however the entry names them (patient, entities or the
 * query in FHIR syntax: absolute or relative references, search parameters,
 * any case, percent-encoded); an undecodable reference refuses the upload.
 * A failed access (outcome not 0) discloses nothing and is accepted for any
 * patient, flagged not-assigned for the privacy officer.
 */
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { AFTER_ASSIGNMENT_EXTENSION, FAILED_UNASSIGNED_OVERFLOW_EXTENSION, FAILED_UNASSIGNED_PER_DAY, NOT_ASSIGNED_EXTENSION } from '../server/audit/audit-ledger';
import { loadReceiptKey } from './support/receipt-key';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients, unassignPatients } from '../server/organisation/assignments';
import { RelyingParty } from '../server/auth/relying-party';
import { setSecurityLogger } from '../server/monitoring/security-log';
import { AUDIT_UPLOAD_PATH, type AuditUpload } from '../shared/audit-upload';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice, type EntryFields } from './support/signed-audit-chain';
import { openTestCache } from './support/open-test-cache';
import { registerDevice } from './support/backend-db';
import { BackendClient } from '../electron/services/backend-client';
import { uploadAuditChain } from '../electron/services/audit-upload';
import { openChart, searchPatients } from '../electron/services/patient-records';
import { AppError } from '../shared/app-error';

const HOUR = 3_600_000;
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

const securityLines: Array<Record<string, unknown>> = [];
setSecurityLogger(
  pino(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) securityLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  ),
);

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`uploaded audit entries are checked, backend on ${engine}`, () => {
    const dir = scratchDir('audit-checks');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    const clock = () => new Date();

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      await addClinician(db, 'dr.own', 'Dr Own', clock);
      await addClinician(db, 'dr.victim', 'Dr Victim', clock);
      // dr.own has had 'mine' for a day; dr.victim alone cares for 'theirs'.
      await assignPatients(db, 'dr.own', ['mine'], () => new Date(Date.now() - 24 * HOUR));
      await assignPatients(db, 'dr.victim', ['theirs'], () => new Date(Date.now() - 24 * HOUR));
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    beforeEach(() => {
      securityLines.length = 0;
    });

    async function upload(token: string, body: AuditUpload): Promise<{ status: number; code: string | undefined }> {
      const r = await fetch(url + AUDIT_UPLOAD_PATH, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      const json = (await r.json()) as { error?: { code: string } };
      return { status: r.status, code: json.error?.code };
    }

    const stored = async (deviceId: string) =>
      Number((await db.selectFrom('audit_entries').select((e) => e.fn.countAll().as('n')).where('device_id', '=', deviceId).executeTakeFirstOrThrow()).n);

    /** A fresh device of dr.own with a session. */
    async function ownDevice(): Promise<{ device: HandBuiltDevice; token: string }> {
      const device = new HandBuiltDevice('dr.own');
      return { device, token: await device.register(db) };
    }

    async function assertRefusedWhole(device: HandBuiltDevice, token: string, body: AuditUpload, before: number, label?: string): Promise<void> {
      const r = await upload(token, body);
      assert.equal(r.status, 400, label);
      assert.equal(r.code, 'AUDIT_CHAIN_INVALID');
      assert.equal(await stored(device.id), before, 'nothing of the upload was stored');
      const event = securityLines.find((l) => l.event === 'audit-upload-refused');
      assert.ok(event, 'a security event names the refusal');
      assert.equal(event.clinicianId, 'dr.own');
      assert.equal(event.deviceId, device.id);
      assert.equal(event.code, 'AUDIT_CHAIN_INVALID');
      assert.doesNotMatch(JSON.stringify(securityLines), /theirs|mine/, 'no patient id in the security log');
    }

    test("entries of the session's clinician and device about an assigned patient (and searches without a result) are accepted", async () => {
      const { device, token } = await ownDevice();
      const r = await upload(token, device.upload([{ recordedAt: at(-HOUR), patientId: 'mine' }, { recordedAt: at(-HOUR), patientId: null, action: 'E', subtype: 'search-type', query: 'nobody' }]));
      assert.equal(r.status, 200);
      assert.equal(await stored(device.id), 2);
    });

    test('an upload with one entry naming another clinician as actor is refused whole', async () => {
      const { device, token } = await ownDevice();
      const body = device.upload([
        { recordedAt: at(-HOUR), patientId: 'mine' },
        { recordedAt: at(-HOUR), patientId: 'mine', actor: 'dr.victim' },
        { recordedAt: at(-HOUR), patientId: 'mine' },
      ]);
      await assertRefusedWhole(device, token, body, 0);
    });

    test('an upload with an entry naming another device is refused whole', async () => {
      const { device, token } = await ownDevice();
      const other = new HandBuiltDevice('dr.own');
      await other.register(db);
      const body = device.upload([{ recordedAt: at(-HOUR), patientId: 'mine' }, { recordedAt: at(-HOUR), patientId: 'mine', deviceId: other.id }]);
      await assertRefusedWhole(device, token, body, 0);
    });

    test('an upload naming a patient the clinician was never assigned is refused whole (as the patient or as an entity)', async () => {
      const { device, token } = await ownDevice();
      const flood = Array.from({ length: 600 }, () => ({ recordedAt: at(-HOUR), patientId: 'theirs' }));
      await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(-HOUR), patientId: 'mine' }, ...flood]), 0);
      device.rewind({ seq: 0, hash: '0'.repeat(64) });
      securityLines.length = 0;
      await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(-HOUR), patientId: 'mine', entities: ['Patient/mine', 'Patient/theirs'] }]), 0);
      device.rewind({ seq: 0, hash: '0'.repeat(64) });
      securityLines.length = 0;
      await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(-HOUR), patientId: null, entities: ['Observation?patient=theirs'] }]), 0);
      assert.equal(Number((await db.selectFrom('audit_entries').select((e) => e.fn.countAll().as('n')).where('patient_id', '=', 'theirs').executeTakeFirstOrThrow()).n), 0);
    });

    test('an entry recorded while the patient was assigned uploads after the assignment ended; one recorded after it is stored flagged; one before it is refused', async () => {
      await assignPatients(db, 'dr.own', ['offline'], () => new Date(Date.now() - 3 * HOUR));
      const { device, token } = await ownDevice();
      const whileAssigned = device.upload([{ recordedAt: at(-2 * HOUR), patientId: 'offline', action: 'U', subtype: 'update', entities: ['Condition/c1'] }]);
      await unassignPatients(db, 'dr.own', ['offline'], () => new Date(Date.now() - HOUR));
      assert.equal((await upload(token, whileAssigned)).status, 200);
      assert.equal(await stored(device.id), 1);

      // The device drops the patient from its cache once the pull says so: that removal uploads too.
      const removal = device.upload([{ recordedAt: at(-HOUR / 2), patientId: 'offline', action: 'D', subtype: 'delete' }]);
      assert.equal((await upload(token, removal)).status, 200);
      assert.equal(await stored(device.id), 2);

      // A read recorded after the assignment ended (beyond the clock skew): the device still held the patient
      // (work waiting), so it happened. Refusing it would stop the chain for good: it is stored, flagged.
      assert.equal((await upload(token, device.upload([{ recordedAt: at(-HOUR / 2), patientId: 'offline' }]))).status, 200);
      const flagged = await db.selectFrom('audit_entries').select(['seq', 'event']).where('device_id', '=', device.id).orderBy('seq').execute();
      const flags = flagged.map((r) => (JSON.parse(r.event) as { extension: Array<{ url: string }> }).extension.some((x) => x.url === AFTER_ASSIGNMENT_EXTENSION));
      assert.deepEqual(flags, [false, false, true], 'only the read after the assignment is flagged (the removal disclosed nothing)');
      // One recorded before the assignment began is refused whole.
      await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(-4 * HOUR), patientId: 'offline' }]), 3);
    });

    test('an entry recorded in the future beyond the clock skew is refused; within it, accepted', async () => {
      const { device, token } = await ownDevice();
      const mark = device.head;
      await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(HOUR), patientId: 'mine' }]), 0);
      device.rewind(mark);
      assert.equal((await upload(token, device.upload([{ recordedAt: at(60_000), patientId: 'mine' }]))).status, 200);
    });

    test('a time that is not a strict 4-digit-year ISO UTC timestamp, or lies before the device was enrolled (beyond the clock skew), refuses the upload whole', async () => {
      const { device, token } = await ownDevice();
      const mark = device.head;
      // Date.parse and toISOString round-trip extended years: the check must not stop at that.
      for (const recordedAt of ['-000001-01-01T00:00:00.000Z', '+010000-01-01T00:00:00.000Z', '+002026-01-01T00:00:00.000Z']) {
        securityLines.length = 0;
        await assertRefusedWhole(device, token, device.upload([{ recordedAt, patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'x' }]), 0, recordedAt);
        device.rewind(mark);
      }
      // The device was registered a moment ago: an entry a year (or an hour) before that is not its own work.
      const fresh = new HandBuiltDevice('dr.own', new Date());
      const freshToken = await fresh.register(db);
      const freshMark = fresh.head;
      for (const recordedAt of [at(-365 * 24 * HOUR), at(-HOUR)]) {
        securityLines.length = 0;
        await assertRefusedWhole(fresh, freshToken, fresh.upload([{ recordedAt, patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'x' }]), 0, recordedAt);
        fresh.rewind(freshMark);
      }
      // Within the clock skew of the enrollment: accepted.
      assert.equal((await upload(freshToken, fresh.upload([{ recordedAt: at(-60_000), patientId: 'mine' }]))).status, 200);
    });

    test('a never-assigned patient named in any other encoding (entities or query) refuses the upload whole; an undecodable reference too, never a 500', async () => {
      const { device, token } = await ownDevice();
      const start = device.head;
      const tries: Array<Omit<EntryFields, 'recordedAt'>> = [
        { patientId: 'mine', entities: ['https://fhir.example/Patient/theirs'] },
        { patientId: 'mine', entities: ['Observation?subject=Patient/theirs'] },
        { patientId: 'mine', entities: ['Observation?subject=theirs'] },
        { patientId: 'mine', entities: ['Observation?code=x&subject:Patient=mine,theirs'] },
        { patientId: null, entities: ['Patient?_id=theirs'] },
        { patientId: null, entities: ['https://fhir.example/Patient?_id=mine,theirs'] },
        { patientId: null, entities: ['/Patient/theirs'] },
        { patientId: null, entities: ['patient/theirs/_history/2'] },
        { patientId: null, entities: ['Observation?PATIENT=theirs'] },
        { patientId: null, entities: ['Observation?Subject=PATIENT/theirs'] },
        { patientId: null, entities: ['Patient%2Ftheirs'] },
        { patientId: null, entities: ['Patient/%74heirs'] },
        { patientId: null, entities: ['Observation?patient=%74heirs'] },
        { patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'Observation?patient=theirs' },
        { patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'Patient/theirs' },
        { patientId: 'mine', entities: ['Patient/%E0%A4%A'] },
        { patientId: 'mine', entities: ['Patient/mine', 'Observation?subject=%zz'] },
        { patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'Observation?patient=%E0%A4%A' },
        { patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'Patient/theirs 100%' },
        { patientId: null, action: 'E', subtype: 'search-type', entities: [], query: 'Observation?subject=Patient%2Ftheirs' },
      ];
      for (const fields of tries) {
        device.rewind(start);
        securityLines.length = 0;
        await assertRefusedWhole(device, token, device.upload([{ recordedAt: at(-HOUR), patientId: 'mine' }, { recordedAt: at(-HOUR), ...fields }]), 0, JSON.stringify(fields));
      }
      assert.equal(Number((await db.selectFrom('audit_entries').select((e) => e.fn.countAll().as('n')).where('device_id', '=', device.id).executeTakeFirstOrThrow()).n), 0);
    });

    test('what real devices record is accepted: free-text searches, own patients in FHIR syntax, history references, ids that end in "patient"', async () => {
      const { device, token } = await ownDevice();
      const search = (query: string, patientId: string | null = null): EntryFields =>
        ({ recordedAt: at(-HOUR), patientId, action: 'E', subtype: 'search-type', entities: patientId ? [`Patient/${patientId}`] : [], query });
      const r = await upload(
        token,
        device.upload([
          search('patient theirs'),
          search('smith 12/03/1985'),
          search('100% O\'Brien = ?'),
          search('theirs'),
          search('Mine', 'mine'),
          search('Observation?patient=mine'),
          { recordedAt: at(-HOUR), patientId: 'mine', action: 'U', subtype: 'conflict-take-theirs', entities: ['Observation/xpatient', 'Observation/xpatient/_history/3'] },
          { recordedAt: at(-HOUR), patientId: 'mine', entities: ['Observation/o1', 'Condition/c-patient.1', 'https://fhir.example/Patient/mine', 'Observation?subject=Patient/mine'] },
        ]),
      );
      assert.equal(r.status, 200, r.code);
      assert.equal(await stored(device.id), 8);
    });

    test('a failed access (outcome not 0) naming a never-assigned patient is stored flagged not-assigned; a successful one in the same upload still refuses it whole', async () => {
      const { device, token } = await ownDevice();
      const mark = device.head;
      // What patient-records.ts records for chart.open of an id the cache does not hold.
      const failedOpen: EntryFields = { recordedAt: at(-HOUR), patientId: 'theirs', action: 'R', subtype: 'read', entities: ['Patient/theirs'], outcome: '4' };
      await assertRefusedWhole(device, token, device.upload([failedOpen, { recordedAt: at(-HOUR), patientId: 'theirs' }]), 0);
      device.rewind(mark);
      const r = await upload(token, device.upload([{ recordedAt: at(-HOUR), patientId: 'mine' }, failedOpen, { ...failedOpen, patientId: 'mine', entities: ['Patient/mine'] }]));
      assert.equal(r.status, 200, r.code);
      const rows = await db.selectFrom('audit_entries').select(['seq', 'patient_id', 'event']).where('device_id', '=', device.id).orderBy('seq').execute();
      const flags = rows.map((row) => (JSON.parse(row.event) as { extension: Array<{ url: string; valueBoolean?: boolean }> }).extension.find((x) => x.url === NOT_ASSIGNED_EXTENSION)?.valueBoolean ?? false);
      assert.deepEqual(flags, [false, true, false], 'only the failed access to a never-assigned patient is flagged');
      assert.equal(rows[1]!.patient_id, 'theirs', "the attempt is filed under the patient, for the privacy officer's view");
    });
    test('a flood of failed accesses on a never-assigned patient keeps the chain uploading but cannot bury the patient: past the daily cap per device they are stored unfiled, flagged overflow', async () => {
      const { device, token } = await ownDevice();
      const failed = (recordedAt: string): EntryFields => ({ recordedAt, patientId: 'theirs', action: 'R', subtype: 'read', entities: ['Patient/theirs'], outcome: '4' });
      const filed = async () => Number((await db.selectFrom('audit_entry_times').select((e) => e.fn.countAll().as('n')).where('device_id', '=', device.id).where('patient_id', '=', 'theirs').executeTakeFirstOrThrow()).n);
      // Two uploads on the same day: the cap counts what is already stored.
      const first = await upload(token, device.upload(Array.from({ length: FAILED_UNASSIGNED_PER_DAY - 10 }, () => failed(at(-HOUR)))));
      assert.equal(first.status, 200, first.code);
      const second = await upload(token, device.upload([...Array.from({ length: 500 }, () => failed(at(-HOUR))), { recordedAt: at(-HOUR), patientId: 'mine' }]));
      assert.equal(second.status, 200, second.code);
      assert.equal(await stored(device.id), FAILED_UNASSIGNED_PER_DAY - 10 + 501, 'every entry is in the chain');
      assert.equal(await filed(), FAILED_UNASSIGNED_PER_DAY, "only the cap is filed under the patient's trail");
      const rows = await db.selectFrom('audit_entries').select(['seq', 'patient_id', 'event']).where('device_id', '=', device.id).orderBy('seq').execute();
      const overflow = rows.filter((r) => (JSON.parse(r.event) as { extension: Array<{ url: string }> }).extension.some((x) => x.url === FAILED_UNASSIGNED_OVERFLOW_EXTENSION));
      assert.equal(overflow.length, 500 - 10);
      assert.ok(overflow.every((r) => r.patient_id === null));
      assert.equal(rows.at(-1)!.patient_id, 'mine', 'a real access still files under its patient');
      assert.equal((await upload(token, device.upload([failed(at(60_000))]))).status, 200, 'the chain keeps uploading');
    });

    test("a real device's failed chart.open of another clinician's patient and its free-text searches upload, and the chain keeps uploading", async () => {
      const cache = await openTestCache('dr.own');
      try {
        const token = await registerDevice(db, 'dr.own', cache.session);
        const client = new BackendClient(url);
        await assert.rejects(openChart(cache.session, 'theirs'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
        await searchPatients(cache.session, '100% fever/chills');
        await searchPatients(cache.session, 'theirs');
        const first = await uploadAuditChain(cache.session, client, token);
        assert.equal(first?.seq, 3, 'the failed read and both searches are accepted');
        await assert.rejects(openChart(cache.session, 'mine'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
        assert.equal((await uploadAuditChain(cache.session, client, token))?.seq, 4, 'later entries still upload');
        const rows = await db.selectFrom('audit_entries').select(['seq', 'event']).where('device_id', '=', cache.session.profile.profileId).orderBy('seq').execute();
        const flagged = rows.map((r) => (JSON.parse(r.event) as { extension: Array<{ url: string }> }).extension.some((x) => x.url === NOT_ASSIGNED_EXTENSION));
        assert.deepEqual(flagged, [true, false, false, false]);
      } finally {
        await cache.dispose();
      }
    });
  });
}
