/**
 * The privacy officer's flag routes over HTTP (SQLite and PostgreSQL): open
 * flags listed in pages, one flag read, a flag acknowledged with a note (a
 * note is required; a second acknowledgement keeps the first); each list,
 * view and acknowledgement recorded in the backend's disclosure chain in the
 * same transaction (one entry per patient named), the chain still whole; a
 * clinician's session (and a sync-only session of the officer) refused with
 * the same 404 as a flag that does not exist, recording nothing and changing
 * nothing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { grantRole } from '../server/authorization/roles';
import { RelyingParty } from '../server/auth/relying-party';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import { parseCanonicalAuditEntry } from '../shared/audit-entry';
import { raiseFlag } from '../server/privacy/flags';
import { FLAG_ENTITY_PREFIX } from '../server/privacy/flag-routes';
import { PRIVACY_FLAGS_PATH, flagListReplySchema, flagReplySchema, privacyFlagAckPath, privacyFlagPath, type PrivacyRule } from '../shared/privacy-api';
import { openBackendDb } from './support/backend-db';
import { loadReceiptKey } from './support/receipt-key';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice } from './support/signed-audit-chain';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`privacy flag routes, backend on ${engine}`, () => {
    const dir = scratchDir('privacy-flags');
    let db: Db;
    let close: () => Promise<void>;
    let app: FastifyInstance;
    let url: string;
    const clock = () => new Date();
    const officerDevice = new HandBuiltDevice('dr.officer');
    const clinicianDevice = new HandBuiltDevice('dr.nosy');
    const syncOfficerDevice = new HandBuiltDevice('dr.officer');
    const tokens: Record<string, string> = {};
    const ids: string[] = [];

    async function call(token: string, path: string, init: { method?: string; body?: unknown } = {}) {
      const r = await fetch(url + path, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
      return { status: r.status, body: (await r.json()) as unknown };
    }

    async function disclosures() {
      const rows = await db.selectFrom('disclosure_events').select(['seq', 'entry', 'patient_id']).orderBy('seq').execute();
      return rows.map((r) => ({ seq: Number(r.seq), patientId: r.patient_id, entry: parseCanonicalAuditEntry(r.entry)! }));
    }

    before(async () => {
      ({ db, close } = await openBackendDb(engine, dir.path));
      for (const id of ['dr.officer', 'dr.nosy', 'dr.x']) await addClinician(db, id, id, clock);
      await grantRole(db, 'dr.officer', 'privacy-officer');
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      tokens.officer = await officerDevice.register(db);
      tokens.clinician = await clinicianDevice.register(db);
      tokens.syncOfficer = await syncOfficerDevice.register(db);
      await db.updateTable('sessions').set({ scope: 'sync' }).where('device_id', '=', syncOfficerDevice.id).execute();
      const flags: Array<[PrivacyRule, string | null, string]> = [
        ['unassigned-access', 'p-1', '2026-03-01T10:00:00.000Z'],
        ['vip-or-staff', 'p-2', '2026-03-02T10:00:00.000Z'],
        ['volume-spike', null, '2026-03-03T10:00:00.000Z'],
        ['unassigned-access', 'p-1', '2026-03-04T10:00:00.000Z'],
        ['offline-burst', null, '2026-03-05T10:00:00.000Z'],
      ];
      for (const [rule, patientId, at] of flags) {
        const r = await raiseFlag(db, {
          rule,
          clinicianId: 'dr.x',
          patientId,
          explanation: `The clinician did ${rule}.`,
          evidence: { refs: [{ kind: 'device', deviceId: 'dev-x', seq: ids.length + 1 }], refsTotal: 1, numbers: { from: at, to: at } },
          dedupeKey: `${rule}:dr.x:${patientId ?? '-'}:${at}`,
          at,
        });
        ids.push(r.id);
      }
    });

    after(async () => {
      await app?.close();
      await close?.();
      dir.remove();
    });

    test('the officer lists open flags newest first, in pages, and each page is recorded per patient it names', async () => {
      const before = (await disclosures()).length;
      const first = await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?limit=3`);
      assert.equal(first.status, 200);
      const page1 = flagListReplySchema.parse(first.body);
      assert.deepEqual(page1.flags.map((f) => f.id), [ids[4], ids[3], ids[2]]);
      assert.ok(page1.next, 'a cursor to the next page');
      const page2 = flagListReplySchema.parse((await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?limit=3&cursor=${page1.next}`)).body);
      assert.deepEqual(page2.flags.map((f) => f.id), [ids[1], ids[0]]);
      assert.equal(page2.next, null);
      assert.equal(page1.flags[0]!.evidence.refs[0]!.kind, 'device');

      const recorded = (await disclosures()).slice(before);
      // page 1 names p-1 and no patient (two flags); page 2 names p-2 and p-1.
      const summary = recorded.map((d) => `${d.patientId ?? '-'} ${d.entry.entities.length}`).sort();
      assert.deepEqual(summary, ['- 2', 'p-1 1', 'p-1 1', 'p-2 1']);
      for (const d of recorded) {
        assert.equal(d.entry.actor, 'dr.officer');
        assert.equal(d.entry.deviceId, officerDevice.id);
        assert.equal(d.entry.action, 'E');
        assert.equal(d.entry.query, `GET ${PRIVACY_FLAGS_PATH}`);
        assert.ok(d.entry.entities.every((e) => e.startsWith(FLAG_ENTITY_PREFIX)), 'entities name flags only');
      }
      assert.equal((await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?cursor=nonsense`)).status, 400);
      assert.equal((await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?limit=100000`)).status, 400);
    });

    test('the officer reads one flag (recorded with its patient) and acknowledges it with a note (recorded too)', async () => {
      const before = (await disclosures()).length;
      const viewed = await call(tokens.officer!, privacyFlagPath(ids[1]!));
      assert.equal(viewed.status, 200);
      assert.equal(flagReplySchema.parse(viewed.body).flag.patientId, 'p-2');

      assert.equal((await call(tokens.officer!, privacyFlagAckPath(ids[1]!), { method: 'POST', body: {} })).status, 400, 'a note is required');
      assert.equal((await call(tokens.officer!, privacyFlagAckPath(ids[1]!), { method: 'POST', body: { note: '   ' } })).status, 400, 'a blank note is no note');
      const acked = await call(tokens.officer!, privacyFlagAckPath(ids[1]!), { method: 'POST', body: { note: 'Checked with the ward: VIP was transferred in.' } });
      assert.equal(acked.status, 200);
      const flag = flagReplySchema.parse(acked.body).flag;
      assert.equal(flag.status, 'acknowledged');
      assert.equal(flag.acknowledgement?.by, 'dr.officer');
      assert.equal(flag.acknowledgement?.note, 'Checked with the ward: VIP was transferred in.');

      const again = flagReplySchema.parse((await call(tokens.officer!, privacyFlagAckPath(ids[1]!), { method: 'POST', body: { note: 'second' } })).body).flag;
      assert.equal(again.acknowledgement?.note, 'Checked with the ward: VIP was transferred in.', 'the first acknowledgement stands');

      const open = flagListReplySchema.parse((await call(tokens.officer!, PRIVACY_FLAGS_PATH)).body);
      assert.ok(!open.flags.some((f) => f.id === ids[1]), 'no longer open');
      const done = flagListReplySchema.parse((await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?status=acknowledged`)).body);
      assert.deepEqual(done.flags.map((f) => f.id), [ids[1]]);

      const recorded = (await disclosures()).slice(before);
      const forFlag = recorded.filter((d) => d.entry.entities.includes(`${FLAG_ENTITY_PREFIX}${ids[1]}`));
      // view, ack, second ack, the acknowledged list: each recorded with the flag's patient; the 400s recorded nothing.
      assert.deepEqual(forFlag.map((d) => `${d.patientId} ${d.entry.query}`), [
        `p-2 GET ${PRIVACY_FLAGS_PATH}/:id`,
        `p-2 POST ${PRIVACY_FLAGS_PATH}/:id/acknowledge`,
        `p-2 POST ${PRIVACY_FLAGS_PATH}/:id/acknowledge`,
        `p-2 GET ${PRIVACY_FLAGS_PATH}`,
      ]);
      assert.ok(recorded.every((d) => !JSON.stringify(d.entry).includes('transferred')), 'the note is never in the audit');
      assert.equal((await verifyDisclosureChain(db)).ok, true);
    });

    test("a clinician's session gets the same 404 as a flag that does not exist, and nothing is recorded or changed", async () => {
      const missing = await call(tokens.officer!, privacyFlagPath('00000000-0000-4000-8000-000000000000'));
      assert.equal(missing.status, 404);
      const before = (await disclosures()).length;
      const attempts = [
        await call(tokens.clinician!, PRIVACY_FLAGS_PATH),
        await call(tokens.clinician!, privacyFlagPath(ids[0]!)),
        await call(tokens.clinician!, privacyFlagAckPath(ids[0]!), { method: 'POST', body: { note: 'nothing to see' } }),
      ];
      for (const a of attempts) {
        assert.equal(a.status, 404);
        assert.deepEqual(a.body, missing.body);
      }
      const sync = await call(tokens.syncOfficer!, PRIVACY_FLAGS_PATH);
      assert.ok(sync.status === 403 || sync.status === 404, `a sync-only session is refused (${sync.status})`);
      assert.equal((await disclosures()).length, before, 'refusals record no disclosure');
      const flag = flagReplySchema.parse((await call(tokens.officer!, privacyFlagPath(ids[0]!))).body).flag;
      assert.equal(flag.status, 'open', 'the refused acknowledgement changed nothing');
    });

    test('a flag row this version cannot read (a newer rule, damaged evidence) is listed by its id and never hides the others; raiseFlag refuses an unknown rule', async () => {
      const row = (id: string, rule: string, evidence: string) => ({
        id,
        rule,
        clinician_id: 'dr.x',
        patient_id: null,
        explanation: 'From a newer version.',
        evidence,
        dedupe_key: `unreadable:${id}`,
        activity_at: new Date().toISOString(),
        raised_at: new Date().toISOString(),
        status: 'open',
        ack_by: null,
        ack_at: null,
        ack_note: null,
      });
      await db
        .insertInto('privacy_flags')
        .values([row('00000000-0000-4000-8000-00000000000a', 'future-rule', JSON.stringify({ refs: [], refsTotal: 0, numbers: {} })), row('00000000-0000-4000-8000-00000000000b', 'vip-or-staff', '{not json')])
        .execute();
      const listed = await call(tokens.officer!, `${PRIVACY_FLAGS_PATH}?limit=200`);
      assert.equal(listed.status, 200, 'one unreadable row does not fail the list');
      const flags = flagListReplySchema.parse(listed.body).flags;
      const future = flags.find((f) => f.id === '00000000-0000-4000-8000-00000000000a');
      assert.equal(future?.rule, 'future-rule', 'a newer rule is shown by its id');
      const damaged = flags.find((f) => f.id === '00000000-0000-4000-8000-00000000000b');
      assert.equal(damaged?.evidence.refs.length, 0, 'damaged evidence is shown as none, the flag still listed');
      assert.ok(flags.some((f) => ids.includes(f.id)), 'the readable flags are still listed');
      await assert.rejects(
        raiseFlag(db, { rule: 'made-up' as PrivacyRule, clinicianId: 'dr.x', patientId: null, explanation: 'x', evidence: { refs: [], refsTotal: 0, numbers: {} }, dedupeKey: 'made-up:1', at: new Date().toISOString() }),
        'an unknown rule is refused when raised',
      );
    });
  });
}
