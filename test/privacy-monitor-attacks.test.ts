/**
 * The monitoring under attack (attack-a, monitor side), on a real backend
 * database: a stored entry with an unparseable time never stops a run (it
 * is skipped and counted, on SQLite and PostgreSQL); an entry dated years
 * back neither makes a run slow nor widens what it judges past its cap; a
 * privacy officer cannot acknowledge a flag about themselves; a clinician
 * asking for the flags gets the front door's own 404 body.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { RelyingParty } from '../server/auth/relying-party';
import { addClinician } from '../server/organisation/organisation';
import { grantRole } from '../server/authorization/roles';
import { UNKNOWN_ASSIGNMENT_START } from '../server/audit/audit-schema';
import { canonicalAuditEntry, type AuditEntry } from '../shared/audit-entry';
import { runMonitor } from '../server/privacy/monitor-runner';
import { acknowledgeFlag, getFlag, raiseFlag, raiseFlags } from '../server/privacy/flags';
import { setPatientMarker } from '../server/privacy/staff-directory';
import { offsetPieces, zoneOffsetSeconds } from '../server/privacy/local-time';
import { PRIVACY_FLAGS_PATH } from '../shared/privacy-api';
import { loadReceiptKey } from './support/receipt-key';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice } from './support/signed-audit-chain';

const H = 3_600_000;

/** Device entries written straight into the ledger table (as older rows or other paths would have left them). */
async function store(db: Db, clinicianId: string, entries: Array<{ recordedAt: string; patientId: string | null; purpose?: string; event?: string }>): Promise<void> {
  const deviceId = `dev-${clinicianId}-${randomBytes(4).toString('hex')}`;
  const rows = entries.map((e, i) => {
    const entry: AuditEntry = {
      seq: i + 1,
      recordedAt: e.recordedAt,
      actor: clinicianId,
      action: 'R',
      subtype: 'read',
      patientId: e.patientId,
      entities: e.patientId ? [`Patient/${e.patientId}`] : [],
      query: null,
      outcome: '0',
      deviceId,
      purpose: e.purpose ?? 'TREAT',
      network: 'online',
    };
    return { device_id: deviceId, seq: i + 1, entry: canonicalAuditEntry(entry), prev_hash: '0'.repeat(64), hash: randomBytes(32).toString('hex'), patient_id: e.patientId, event: e.event ?? '{}' };
  });
  await db.insertInto('audit_entries').values(rows).execute();
}

async function patient(db: Db, id: string): Promise<void> {
  const json = JSON.stringify({ resourceType: 'Patient', id, name: [{ family: `F${id}`, given: ['Pat'] }] });
  const seq = await db.updateTable('counters').set((eb) => ({ value: eb('value', '+', 1) })).where('name', '=', 'change_seq').returning('value').executeTakeFirstOrThrow();
  await db.insertInto('resources').values({ resource_type: 'Patient', id, patient_id: id, json, change_seq: Number(seq.value) }).execute();
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`monitor attacks, backend on ${engine}`, () => {
    const dir = scratchDir('privacy-monitor-attacks');
    let db: Db;
    let close: () => Promise<void>;

    before(async () => {
      ({ db, close } = await openBackendDb(engine, dir.path));
      for (const c of ['dr.x', 'dr.y']) await addClinician(db, c, c, () => new Date());
      for (const p of ['ma-vip', 'ma-own']) await patient(db, p);
      await db.insertInto('assignments').values([{ clinician_id: 'dr.x', patient_id: 'ma-own' }, { clinician_id: 'dr.y', patient_id: 'ma-vip' }]).execute();
      await db.insertInto('assignment_periods').values([
        { clinician_id: 'dr.x', patient_id: 'ma-own', assigned_at: UNKNOWN_ASSIGNMENT_START, unassigned_at: null },
        { clinician_id: 'dr.y', patient_id: 'ma-vip', assigned_at: UNKNOWN_ASSIGNMENT_START, unassigned_at: null },
      ]).execute();
      await setPatientMarker(db, 'ma-vip', 'vip', true, () => new Date());
    });
    after(async () => {
      await close?.();
      dir.remove();
    });

    test('A1: a stored entry whose time cannot be read is skipped and counted; the run goes on and later accesses are judged', async () => {
      await store(db, 'dr.x', [
        { recordedAt: '-000001-01-01T00:00:00.000Z', patientId: null },
        { recordedAt: '2026-02-31T25:00:00.000Z', patientId: 'ma-own' },
        { recordedAt: 'not a time', patientId: 'ma-own' },
      ]);
      await store(db, 'dr.y', [{ recordedAt: new Date(Date.now() - 60_000).toISOString(), patientId: 'ma-vip' }]);
      const r = await runMonitor(db);
      assert.equal(r.ingested, 1, 'the good entry is taken');
      assert.equal(r.skipped, 3, 'the three unreadable ones are counted');
      assert.ok(r.found['vip-or-staff'] >= 1, "dr.y's VIP read is judged");
      const again = await runMonitor(db);
      assert.equal(again.ingested, 0);
      assert.equal(again.skipped, 3, 'still counted, never blocking');
    });

    test('A6: an ETREAT read without a grant (marked by the upload checks) is explained as a claimed emergency access, not a broken glass', async () => {
      await store(db, 'dr.x', [{ recordedAt: new Date(Date.now() - 30_000).toISOString(), patientId: 'ma-vip', purpose: 'ETREAT', event: JSON.stringify({ extension: [{ url: 'urn:clinician-desktop:etreat-without-grant', valueBoolean: true }] }) }]);
      await runMonitor(db);
      const f = await db.selectFrom('privacy_flags').selectAll().where('clinician_id', '=', 'dr.x').where('rule', '=', 'break-glass').executeTakeFirstOrThrow();
      assert.match(f.explanation, /claimed emergency access without a grant/);
      assert.equal(JSON.parse(f.evidence).numbers.withoutGrant, 1);
    });

    test('A2: one entry dated ten years back neither slows the run nor widens the judged span past its cap', { skip: engine !== 'sqlite' }, async () => {
      const tenYears = new Date(Date.now() - 3650 * 24 * H).toISOString();
      await store(db, 'dr.x', [{ recordedAt: tenYears, patientId: 'ma-own' }, { recordedAt: new Date(Date.now() - 60_000).toISOString(), patientId: 'ma-own' }]);
      const t0 = performance.now();
      const r = await runMonitor(db);
      const ms = performance.now() - t0;
      assert.ok(ms < 1500, `a run took ${Math.round(ms)} ms`);
      assert.ok(r.span && r.span.fromEpoch >= Date.now() / 1000 - 401 * 86_400, 'the judged span is capped');
      assert.equal(r.outsideSpan, 1, 'the entry outside the cap is counted');
    });
  });
}

test('offsets from cached transitions equal the hour-by-hour offsets (Europe/London, America/Santiago, Australia/Lord_Howe)', () => {
  const from = Date.UTC(2024, 0, 1) / 1000;
  const to = Date.UTC(2026, 11, 31) / 1000;
  for (const zone of ['Europe/London', 'America/Santiago', 'Australia/Lord_Howe', 'UTC']) {
    const pieces = offsetPieces(zone, from, to);
    for (let t = from; t <= to; t += 3600) {
      const piece = [...pieces].reverse().find((p) => p.from <= t)!;
      assert.equal(piece.offset, zoneOffsetSeconds(zone, t), `${zone} at ${new Date(t * 1000).toISOString()}`);
    }
  }
  const t0 = performance.now();
  offsetPieces('Europe/London', Date.UTC(2016, 0, 1) / 1000, to);
  assert.ok(performance.now() - t0 < 250, 'ten years of offsets in well under a second (the runner judges at most about 13 months)');
});

describe('flags over HTTP: self-acknowledgement and the 404 a clinician sees', () => {
  const dir = scratchDir('privacy-monitor-attacks-http');
  let db: Db;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  let url: string;
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: r.status, text: await r.text() };
  };
  before(async () => {
    ({ db, close } = await openBackendDb('sqlite', dir.path));
    const clock = () => new Date();
    for (const c of ['dr.po', 'dr.po2', 'dr.plain']) await addClinician(db, c, c, clock);
    await grantRole(db, 'dr.po', 'privacy-officer');
    await grantRole(db, 'dr.po2', 'privacy-officer');
    app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
    await close?.();
    dir.remove();
  });

  test('A3: an officer cannot acknowledge a flag about themselves (typed refusal); another officer can', async () => {
    const at = new Date().toISOString();
    const { id } = await raiseFlag(db, { rule: 'break-glass', clinicianId: 'dr.po', patientId: 'p-1', explanation: 'x', evidence: { refs: [], refsTotal: 0, numbers: {} }, dedupeKey: `break-glass:dr.po:p-1:${at.slice(0, 10)}`, at });
    await assert.rejects(acknowledgeFlag(db, id, 'dr.po', 'fine', () => new Date()), (err: Error & { code?: string }) => err.code === 'FLAG_ABOUT_YOURSELF');
    const po = new HandBuiltDevice('dr.po');
    const tPo = await po.register(db);
    const self = await call('POST', `${PRIVACY_FLAGS_PATH}/${id}/acknowledge`, tPo, { note: 'ok' });
    assert.equal(self.status, 403, self.text);
    assert.match(self.text, /FLAG_ABOUT_YOURSELF/);
    const still = await db.selectFrom('privacy_flags').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(still.status, 'open');
    const other = new HandBuiltDevice('dr.po2');
    const tOther = await other.register(db);
    const ok = await call('POST', `${PRIVACY_FLAGS_PATH}/${id}/acknowledge`, tOther, { note: 'checked' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((JSON.parse(ok.text) as { flag: { status: string } }).flag.status, 'acknowledged');
  });

  test('A4: the same finding with more evidence updates the flag, and reopens it when it grew after its acknowledgement', async () => {
    const clock = () => new Date();
    const flag = (n: number) => ({ rule: 'after-hours' as const, clinicianId: 'dr.plain', patientId: null, explanation: `${n} entries`, evidence: { refs: [], refsTotal: n, numbers: { entries: n } }, dedupeKey: 'after-hours:dr.plain:2026-11-25', at: '2026-11-25T19:05:00.000Z' });
    assert.equal(await raiseFlags(db, [flag(1)], clock), 1);
    const id = (await db.selectFrom('privacy_flags').select('id').where('dedupe_key', '=', 'after-hours:dr.plain:2026-11-25').executeTakeFirstOrThrow()).id;
    await acknowledgeFlag(db, id, 'dr.po', 'one late read, on call', clock);
    assert.equal(await raiseFlags(db, [flag(1)], clock), 0);
    assert.equal((await getFlag(db, id))!.status, 'acknowledged', 'the same evidence again changes nothing');
    assert.equal(await raiseFlags(db, [flag(301)], clock), 0);
    const grown = (await getFlag(db, id))!;
    assert.equal(grown.evidence.refsTotal, 301);
    assert.equal(grown.explanation, '301 entries');
    assert.equal(grown.status, 'open', 'reopened: it grew after the acknowledgement');
    assert.equal(grown.evidence.numbers.reopenedAfterAcknowledgement, true);
    assert.ok(grown.acknowledgement, 'the earlier acknowledgement is kept');
  });

  test('A7: a clinician asking for the flags gets exactly the body of a route that does not exist', async () => {
    const plain = new HandBuiltDevice('dr.plain');
    const t = await plain.register(db);
    const missing = await call('GET', '/v1/no-such-route-here', t);
    const flags = await call('GET', PRIVACY_FLAGS_PATH, t);
    assert.equal(missing.status, 404);
    assert.equal(flags.status, 404);
    assert.equal(flags.text, missing.text);
  });
});
