/**
 * The privacy console's pure pieces: CSV cells neutralised against formula
 * injection (= + - @, tab, carriage return) and quoted per RFC 4180; an
 * AuditEvent (device or backend, ETREAT, offline, break-the-glass reason)
 * read back as a console row, search text left out; the console's origins
 * from the backend's public address; the officer's console device id; a
 * clinician's history on SQLite and PostgreSQL, exactly that clinician's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toBalpAuditEvent } from '../shared/balp-audit-event';
import type { AuditEntry } from '../shared/audit-entry';
import { glassFacts } from '../shared/glass-api';
import { csvCell, disclosureCsv } from '../server/console/disclosure-csv';
import { disclosureRow } from '../server/console/disclosure-rows';
import { consoleOrigins } from '../server/console/console-origin';
import { consoleDeviceId } from '../server/console/console-device';
import { recordDisclosures, serverAuditEvent } from '../server/audit/disclosure-ledger';
import { clinicianHistory } from '../server/console/clinician-access-history';
import { accountingBundleChunks, accountingCsvChunks, accountingPage } from '../server/console/disclosure-accounting';
import { NOT_ASSIGNED_EXTENSION, AFTER_ASSIGNMENT_EXTENSION, EMERGENCY_WITHOUT_GRANT_EXTENSION } from '../server/audit/audit-ledger';
import type { Caller } from '../server/auth/caller';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';

const entry = (over: Partial<AuditEntry>): AuditEntry => ({
  seq: 7,
  recordedAt: '2026-11-26T08:00:00.000Z',
  actor: 'dr.kim',
  action: 'R',
  subtype: 'read',
  patientId: 'p-1',
  entities: ['Patient/p-1', 'Observation/o-1'],
  query: null,
  outcome: '0',
  deviceId: '3f0a8c52-0000-4000-8000-000000000001',
  purpose: 'TREAT',
  network: 'online',
  ...over,
});

test('a CSV cell that starts a formula gets a leading apostrophe; every cell is quoted with quotes doubled', () => {
  for (const bad of ['=1+2', '+SUM(A1)', '-2+3', '@cmd', '\t=1', '\r=1']) assert.equal(csvCell(bad), `"'${bad.replace(/"/g, '""')}"`);
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvCell('plain, text'), '"plain, text"');
  assert.equal(csvCell(''), '""');
});

test('the accounting CSV has a header and one CRLF line per row, with no cell starting a formula', () => {
  const row = disclosureRow(toBalpAuditEvent(entry({ subtype: 'export', action: 'R', query: '=cmd|calc', entities: ['urn:clinician-desktop:export:format:pdf'] }), { applicationName: 'a', custodianName: 'c', hash: 'h' }));
  const csv = disclosureCsv([row]);
  const lines = csv.split('\r\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.ok(lines[0]!.startsWith('"recorded","who","patient"'));
  assert.ok(lines[1]!.split('","').every((cell) => !/^"?[=+\-@]/.test(cell)));
});

test('a desktop entry reads as who, patient, device, offline, ETREAT and the break-the-glass reason', () => {
  const event = toBalpAuditEvent(
    entry({ action: 'E', subtype: 'break-glass', entities: glassFacts({ reason: 'emergency-treatment', expiresAt: '2026-11-26T12:00:00.000Z' }), query: 'Unconscious in ED', purpose: 'ETREAT', network: 'offline' }),
    { applicationName: 'clinician-desktop', custodianName: 'cache', hash: 'h' },
  );
  const row = disclosureRow(event);
  assert.equal(row.who, 'dr.kim');
  assert.equal(row.patientId, 'p-1');
  assert.equal(row.what, 'break-glass');
  assert.equal(row.purpose, 'ETREAT');
  assert.equal(row.network, 'offline');
  assert.equal(row.deviceId, '3f0a8c52-0000-4000-8000-000000000001');
  assert.equal(row.recordedBy, 'device');
  assert.equal(row.reason, 'emergency-treatment: Unconscious in ED');
  assert.deepEqual(row.resources, []);
});

test("a backend disclosure reads as recorded by the backend; a search's text is never a reason", () => {
  const read = disclosureRow(serverAuditEvent(entry({}), 'h'));
  assert.equal(read.recordedBy, 'backend');
  assert.equal(read.deviceId, '3f0a8c52-0000-4000-8000-000000000001');
  assert.deepEqual(read.resources, ['Observation/o-1']);
  const search = disclosureRow(serverAuditEvent(entry({ action: 'E', subtype: 'search-type', query: 'smith' }), 'h'));
  assert.equal(search.reason, '');
});

test("the console's origins are the backend's public address, plus localhost for a loopback IP only", () => {
  assert.deepEqual(consoleOrigins('https://backend.hospital.example'), ['https://backend.hospital.example']);
  assert.deepEqual(consoleOrigins('https://backend.hospital.example:8443/base'), ['https://backend.hospital.example:8443']);
  assert.deepEqual(consoleOrigins('http://127.0.0.1:8787'), ['http://127.0.0.1:8787', 'http://localhost:8787']);
  assert.deepEqual(consoleOrigins(undefined), []);
  assert.deepEqual(consoleOrigins('javascript:alert(1)'), []);
});

test('an officer has one console device id, a UUID that differs per clinician', () => {
  const a = consoleDeviceId('pat.officer');
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(consoleDeviceId('pat.officer'), a);
  assert.notEqual(consoleDeviceId('dr.kim'), a);
});

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: a clinician's history holds the backend's disclosures to exactly that clinician, not to ids a LIKE pattern would also match`, async () => {
    const dir = scratchDir('console-history');
    const { db, close } = await openBackendDb(engine, dir.path);
    try {
      const clock = () => new Date('2026-11-26T08:00:00.000Z');
      const as = (clinicianId: string): Caller => ({ clinicianId, deviceId: '3f0a8c52-0000-4000-8000-000000000001', scope: 'full' });
      await db.transaction().execute(async (trx) => {
        await recordDisclosures(trx, as('dr_kim'), [{ action: 'R', subtype: 'read', patientId: 'p-1', entities: ['Patient/p-1'], outcome: '0', query: null }], clock);
        await recordDisclosures(trx, as('drxkim'), [{ action: 'R', subtype: 'read', patientId: 'p-2', entities: ['Patient/p-2'], outcome: '0', query: null }], clock);
        await recordDisclosures(trx, as('dr_kim.2'), [{ action: 'R', subtype: 'read', patientId: 'p-3', entities: ['Patient/p-3'], outcome: '0', query: null }], clock);
      });
      const history = await clinicianHistory(db, 'dr_kim');
      assert.deepEqual(history.rows.map((r) => [r.who, r.patientId, r.recordedBy]), [['dr_kim', 'p-1', 'backend']]);
      assert.equal(history.more, false);
    } finally {
      await close();
      dir.remove();
    }
  });
}

test('a row shows the upload checks\' marks (not assigned, after the assignment, ETREAT without a grant) and the CSV carries them', () => {
  const event = toBalpAuditEvent(entry({ outcome: '4', purpose: 'ETREAT' }), { applicationName: 'a', custodianName: 'c', hash: 'h' });
  for (const url of [NOT_ASSIGNED_EXTENSION, AFTER_ASSIGNMENT_EXTENSION, EMERGENCY_WITHOUT_GRANT_EXTENSION]) (event.extension as unknown[]).push({ url, valueBoolean: true });
  const row = disclosureRow(event);
  assert.deepEqual(row.marks, ['not-assigned', 'after-assignment', 'etreat-without-grant']);
  assert.deepEqual(disclosureRow(toBalpAuditEvent(entry({}), { applicationName: 'a', custodianName: 'c', hash: 'h' })).marks, []);
  const [header, line] = disclosureCsv([row]).split('\r\n');
  assert.ok(header!.includes('"marks"'));
  assert.ok(line!.includes('"not-assigned after-assignment etreat-without-grant"'));
});

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const c of chunks) text += c;
  return text;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: a flood of entries cannot bury a disclosure: the accounting pages by cursor to its very end, and both exports hold every entry (attack-a A7)`, async () => {
    const dir = scratchDir('console-accounting');
    const { db, close } = await openBackendDb(engine, dir.path);
    try {
      const base = Date.parse('2026-11-20T08:00:00.000Z');
      const as = (clinicianId: string): Caller => ({ clinicianId, deviceId: '3f0a8c52-0000-4000-8000-000000000001', scope: 'full' });
      // The disclosure the patient must learn about, then 1,200 later failed reads by someone else.
      const flood = 1200;
      await db.transaction().execute(async (trx) => {
        await recordDisclosures(trx, as('dr.glass'), [{ action: 'E', subtype: 'break-glass', patientId: 'p-buried', entities: ['Patient/p-buried'], outcome: '0', query: 'emergency' }], () => new Date(base));
        for (let i = 0; i < flood; i += 100) {
          await recordDisclosures(trx, as('dr.flood'), Array.from({ length: 100 }, () => ({ action: 'R' as const, subtype: 'read', patientId: 'p-buried', entities: ['Patient/p-buried'], outcome: '4' as const, query: null })), () => new Date(base + 60_000 + i * 1000));
        }
      });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await accountingPage(db, 'p-buried', cursor);
        pages++;
        seen.push(...page.rows.map((r) => r.what));
        if (!page.next) break;
        cursor = page.next;
      }
      assert.ok(pages > 1, 'more than one page');
      assert.equal(seen.length, flood + 1, 'every entry, each once');
      assert.equal(seen.at(-1), 'break-glass', 'the oldest entry is reached');
      const bundle = JSON.parse(await collect(accountingBundleChunks(db, 'p-buried', new Date(base + 3_600_000)))) as { resourceType: string; total: number; entry: Array<{ resource: { subtype: Array<{ code: string }> } }> };
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.entry.length, flood + 1);
      assert.equal(bundle.total, flood + 1);
      assert.ok(bundle.entry.some((e) => e.resource.subtype.some((st) => st.code === 'break-glass')), 'the break of the glass is in the FHIR export');
      const csv = await collect(accountingCsvChunks(db, 'p-buried'));
      const lines = csv.split('\r\n');
      assert.equal(lines.at(-1), '');
      assert.equal(lines.at(-2), `"# end of accounting: ${flood + 1} entries"`, 'the last line says the export is whole');
      assert.equal(lines.length, 1 + flood + 1 + 2);
      assert.ok(lines.some((l) => l.includes('"break-glass"')), 'the break of the glass is in the CSV');
    } finally {
      await close();
      dir.remove();
    }
  });
}

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: recordDisclosures records a given purpose (the console's HOPERAT); without one, TREAT as before`, async () => {
    const dir = scratchDir('console-purpose');
    const { db, close } = await openBackendDb(engine, dir.path);
    try {
      const clock = () => new Date('2026-11-26T08:00:00.000Z');
      const caller: Caller = { clinicianId: 'pat.officer', deviceId: '3f0a8c52-0000-4000-8000-000000000001', scope: 'full' };
      const item = { action: 'E' as const, subtype: 'search-type' as const, patientId: 'p-1', entities: [], outcome: '0' as const, query: '/console/api/patients/p-1/accounting' };
      await db.transaction().execute(async (trx) => {
        await recordDisclosures(trx, caller, [item], clock, { purpose: 'HOPERAT' });
        await recordDisclosures(trx, caller, [item], clock);
      });
      const page = await accountingPage(db, 'p-1', undefined);
      assert.deepEqual(page.rows.map((r) => r.purpose).sort(), ['HOPERAT', 'TREAT']);
    } finally {
      await close();
      dir.remove();
    }
  });
}
