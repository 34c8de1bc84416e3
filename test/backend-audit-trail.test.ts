/**
 * A patient's access trail at the backend (SQLite and PostgreSQL): the
 * devices' uploaded entries and the backend's own disclosure events, newest
 * first by recorded time across devices, in pages behind a cursor, so 600
 * entries from one device cannot push another device's entries out of
 * reach; search text only for a privacy officer; a clinician without the
 * patient gets the same 404 as for a patient that does not exist; and every
 * trail view is itself recorded in the backend's chain.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { loadReceiptKey } from './support/receipt-key';
import { verifyDisclosureChain } from '../server/audit/disclosure-verify';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { grantRole } from '../server/authorization/roles';
import { RelyingParty } from '../server/auth/relying-party';
import { AUDIT_UPLOAD_PATH, type AuditUpload } from '../shared/audit-upload';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { HandBuiltDevice } from './support/signed-audit-chain';

const HOUR = 3_600_000;
const PATIENT = 'trail-patient';
const SEARCH_TEXT = 'Smith diabetes';

interface AuditEventJson {
  id: string;
  action: string;
  subtype: Array<{ code: string }>;
  recorded: string;
  agent: Array<{ who: { identifier: { value: string } } }>;
  source: { observer: { identifier: { value: string } } };
  entity: Array<{ role?: { code: string }; query?: string; what?: { reference: string } }>;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`patient audit trail, backend on ${engine}`, () => {
    const dir = scratchDir('audit-trail');
    let db: Db;
    let closeDb: (() => Promise<void>) | null = null;
    let app: FastifyInstance;
    let url: string;
    const clock = () => new Date();
    const quiet = new HandBuiltDevice('dr.quiet');
    const noisy = new HandBuiltDevice('dr.noisy');
    const officerDevice = new HandBuiltDevice('dr.privacy');
    const outsiderDevice = new HandBuiltDevice('dr.outsider');
    const tokens: Record<string, string> = {};

    async function upload(token: string, body: AuditUpload): Promise<void> {
      const r = await fetch(url + AUDIT_UPLOAD_PATH, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, await r.text());
    }

    async function trail(token: string, query = ''): Promise<{ status: number; body: { events: AuditEventJson[]; next: string | null; error?: { code: string; message: string } } }> {
      const r = await fetch(`${url}/v1/audit/patients/${PATIENT}${query}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: (await r.json()) as never };
    }

    async function wholeTrail(token: string): Promise<{ events: AuditEventJson[]; pages: number[] }> {
      const events: AuditEventJson[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const r = await trail(token, cursor ? `?cursor=${encodeURIComponent(cursor)}` : '');
        assert.equal(r.status, 200);
        events.push(...r.body.events);
        pages.push(r.body.events.length);
        cursor = r.body.next;
        assert.ok(pages.length < 50, 'the cursor moves on');
      } while (cursor);
      return { events, pages };
    }

    before(async () => {
      ({ db, close: closeDb } = await openBackendDb(engine, dir.path));
      for (const id of ['dr.quiet', 'dr.noisy', 'dr.privacy', 'dr.outsider']) await addClinician(db, id, id, clock);
      const dayAgo = () => new Date(Date.now() - 24 * HOUR);
      await assignPatients(db, 'dr.quiet', [PATIENT], dayAgo);
      await assignPatients(db, 'dr.noisy', [PATIENT], dayAgo);
      await grantRole(db, 'dr.privacy', 'privacy-officer');
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: ['http://localhost'] }, clock), clock, receiptKey: loadReceiptKey(dir.path) });
      url = await app.listen({ port: 0, host: '127.0.0.1' });
      for (const d of [quiet, noisy, officerDevice, outsiderDevice]) tokens[d.clinicianId] = await d.register(db);

      // The quiet device: five chart reads and one search, two hours ago; uploaded first.
      const early = (i: number) => new Date(Date.now() - 2 * HOUR + i * 1000).toISOString();
      await upload(
        tokens['dr.quiet']!,
        quiet.upload([
          ...Array.from({ length: 5 }, (_, i) => ({ recordedAt: early(i), patientId: PATIENT })),
          { recordedAt: early(5), patientId: PATIENT, action: 'E' as const, subtype: 'search-type' as const, query: SEARCH_TEXT },
        ]),
      );
      // The noisy device: 600 entries in the last hour.
      await upload(tokens['dr.noisy']!, noisy.upload(Array.from({ length: 600 }, (_, i) => ({ recordedAt: new Date(Date.now() - HOUR + i * 1000).toISOString(), patientId: PATIENT }))));
    });

    after(async () => {
      await app?.close();
      await closeDb?.();
      dir.remove();
    });

    test("600 entries from one device do not hide another device's: pages of 100, newest first across devices, and paging reaches every entry", async () => {
      const first = await trail(tokens['dr.quiet']!);
      assert.equal(first.status, 200);
      assert.equal(first.body.events.length, 100, 'the default page size');
      assert.ok(first.body.next, 'a cursor to the next page');

      const { events, pages } = await wholeTrail(tokens['dr.quiet']!);
      assert.ok(pages.every((n) => n <= 100));
      const fromDevice = (d: HandBuiltDevice) => events.filter((e) => e.source.observer.identifier.value === d.id);
      assert.equal(fromDevice(noisy).length, 600);
      assert.equal(fromDevice(quiet).length, 6, "every one of the quiet device's entries is reachable");
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event twice');
      const times = events.map((e) => e.recorded);
      assert.deepEqual(times, [...times].sort().reverse(), 'newest first by recorded time');
      // The quiet device's entries are the oldest: last in the trail.
      assert.ok(events.slice(-6).every((e) => e.source.observer.identifier.value === quiet.id));

      const big = await trail(tokens['dr.quiet']!, '?limit=500');
      assert.equal(big.body.events.length, 500);
      assert.equal((await trail(tokens['dr.quiet']!, '?limit=501')).status, 400, 'at most 500 a page');
      assert.equal((await trail(tokens['dr.quiet']!, '?cursor=not-a-cursor')).status, 400);
    });

    test('search text is visible to a privacy officer only, not to every clinician assigned to the patient', async () => {
      const searchOf = (events: AuditEventJson[]) => events.find((e) => e.source.observer.identifier.value === quiet.id && e.action === 'E');
      const queryText = (e: AuditEventJson | undefined) => e?.entity.find((x) => x.role?.code === '24')?.query;

      const assigned = await wholeTrail(tokens['dr.noisy']!);
      assert.ok(searchOf(assigned.events), 'the search is in the trail');
      assert.equal(queryText(searchOf(assigned.events)), undefined, 'without its search text');
      assert.ok(assigned.events.every((e) => !e.entity.some((x) => x.role?.code === '24')), 'no query entity at all for an assigned clinician');

      const officer = await wholeTrail(tokens['dr.privacy']!);
      assert.equal(Buffer.from(queryText(searchOf(officer.events))!, 'base64').toString('utf8'), SEARCH_TEXT);
    });

    test('a clinician without the patient gets the same 404 as for a patient that does not exist', async () => {
      const refused = await trail(tokens['dr.outsider']!);
      const missing = await fetch(`${url}/v1/audit/patients/no-such-patient`, { headers: { authorization: `Bearer ${tokens['dr.quiet']!}` } });
      assert.equal(refused.status, 404);
      assert.equal(refused.body.error?.code, 'NOT_FOUND');
      assert.equal(missing.status, 404);
      assert.deepEqual(refused.body, await missing.json());
    });

    test("each trail view is recorded in the backend's chain (who, from which device, what was asked) and shows in the trail", async () => {
      const count = async () => Number((await db.selectFrom('disclosure_events').select((e) => e.fn.countAll().as('n')).where('patient_id', '=', PATIENT).executeTakeFirstOrThrow()).n);
      const before = await count();
      await trail(tokens['dr.quiet']!, '?limit=7');
      assert.equal(await count(), before + 1, 'one event per view');
      const last = await db.selectFrom('disclosure_events').select(['event']).where('patient_id', '=', PATIENT).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      const event = JSON.parse(last.event) as AuditEventJson & { agent: Array<{ network?: { address: string } }> };
      assert.equal(event.action, 'E');
      assert.equal(event.subtype[0]!.code, 'search-type');
      assert.equal(event.agent[0]!.who.identifier.value, 'dr.quiet');
      assert.equal(event.agent[1]!.network?.address, `urn:uuid:${quiet.id}`);
      assert.equal(event.source.observer.identifier.value, 'clinician-backend');
      assert.equal(Buffer.from(event.entity.find((x) => x.role?.code === '24')!.query!, 'base64').toString('utf8'), `/v1/audit/patients/${PATIENT}?limit=7`);

      // The officer sees the backend's own events beside the devices' (newest first: the views just made).
      const officer = await trail(tokens['dr.privacy']!, '?limit=3');
      assert.ok(officer.body.events.some((e) => e.source.observer.identifier.value === 'clinician-backend' && e.agent[0]!.who.identifier.value === 'dr.quiet'));
      assert.equal((await verifyDisclosureChain(db)).ok, true);
    });
  });
}
