/**
 * The unusual-access rules over a real backend database (SQLite and
 * PostgreSQL): two weeks of ordinary work by several clinicians raise no
 * flag, and each injected behaviour (break the glass, an unassigned
 * patient, a day far above the clinician's own baseline, after hours, a
 * relative, a VIP, many charts opened without charting, an offline burst)
 * raises exactly its own flag for exactly that clinician, with its evidence
 * pointing at the injected entries. Runs are incremental and flags dedupe.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Db } from '../server/database';
import { addClinician } from '../server/organisation/organisation';
import { UNKNOWN_ASSIGNMENT_START } from '../server/audit/audit-schema';
import { canonicalAuditEntry, type AuditEntry } from '../shared/audit-entry';
import { runMonitor } from '../server/privacy/monitor-runner';
import { listFlags, raiseFlag } from '../server/privacy/flags';
import { setPatientMarker, setStaffDetails } from '../server/privacy/staff-directory';
import { readMonitorPolicy, setMonitorPolicy } from '../server/privacy/monitor-policy';
import { afterHoursRule, localTimeFor } from '../server/privacy/rules';
import { addRota } from '../server/privacy/rota';
import type { PrivacyFlag } from '../shared/privacy-api';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';

const DAY_MS = 86_400_000;
/** Day 0 of the scenario: Monday 2 March 2026, 00:00 UTC. */
const T0 = Date.UTC(2026, 2, 2);
const at = (day: number, hh: number, mm = 0, ss = 0) => new Date(T0 + day * DAY_MS + ((hh * 60 + mm) * 60 + ss) * 1000).toISOString();

/** Writes device entries straight into the backend's ledger tables (the rules never check hashes; uploads are tested elsewhere). */
class Ledger {
  private seqs = new Map<string, number>();
  readonly refs: Array<{ clinicianId: string; deviceId: string; seq: number; patientId: string | null; tag: string }> = [];
  private rows: Array<{ device_id: string; seq: number; entry: string; prev_hash: string; hash: string; patient_id: string | null; event: string }> = [];
  constructor(private db: Db) {}
  add(clinicianId: string, e: { at: string; patientId: string | null; action?: AuditEntry['action']; subtype?: AuditEntry['subtype']; purpose?: string; network?: 'online' | 'offline'; tag?: string }): void {
    const deviceId = `dev-${clinicianId}`;
    const seq = (this.seqs.get(deviceId) ?? 0) + 1;
    this.seqs.set(deviceId, seq);
    const entry: AuditEntry = {
      seq,
      recordedAt: e.at,
      actor: clinicianId,
      action: e.action ?? 'R',
      subtype: e.subtype ?? 'read',
      patientId: e.patientId,
      entities: e.patientId ? [`Patient/${e.patientId}`] : [],
      query: null,
      outcome: '0',
      deviceId,
      purpose: e.purpose ?? 'TREAT',
      network: e.network ?? 'online',
    };
    this.rows.push({ device_id: deviceId, seq, entry: canonicalAuditEntry(entry), prev_hash: '0'.repeat(64), hash: randomBytes(32).toString('hex'), patient_id: e.patientId, event: '{}' });
    this.refs.push({ clinicianId, deviceId, seq, patientId: e.patientId, tag: e.tag ?? 'normal' });
  }
  async flush(): Promise<void> {
    for (let i = 0; i < this.rows.length; i += 500) await this.db.insertInto('audit_entries').values(this.rows.slice(i, i + 500)).execute();
    this.rows = [];
  }
}

async function patient(db: Db, id: string, family: string, address?: { line: string[]; city: string; postalCode: string }, meta?: unknown): Promise<void> {
  const json = JSON.stringify({ resourceType: 'Patient', id, name: [{ family, given: ['Pat'] }], ...(address ? { address: [address] } : {}), ...(meta ? { meta } : {}) });
  const seq = await db.updateTable('counters').set((eb) => ({ value: eb('value', '+', 1) })).where('name', '=', 'change_seq').returning('value').executeTakeFirstOrThrow();
  await db.insertInto('resources').values({ resource_type: 'Patient', id, patient_id: id, json, change_seq: Number(seq.value) }).execute();
}

async function assign(db: Db, clinicianId: string, patientIds: string[], from = UNKNOWN_ASSIGNMENT_START): Promise<void> {
  await db.insertInto('assignments').values(patientIds.map((p) => ({ clinician_id: clinicianId, patient_id: p }))).execute();
  await db.insertInto('assignment_periods').values(patientIds.map((p) => ({ clinician_id: clinicianId, patient_id: p, assigned_at: from, unassigned_at: null }))).execute();
}

async function allFlags(db: Db): Promise<PrivacyFlag[]> {
  const { flags } = await listFlags(db, { status: 'open', limit: 200 });
  return flags;
}

/** A deterministic small pseudo-random sequence (the same scenario every run). */
function lcg(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const CLINICIANS = ['dr.a', 'dr.b', 'dr.c', 'dr.d', 'dr.e', 'dr.f', 'dr.g', 'dr.h', 'dr.i'] as const;
const DAYS = 14;

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`unusual-access rules, backend on ${engine}`, () => {
    const dir = scratchDir('privacy-rules');
    let db: Db;
    let close: () => Promise<void>;
    let ledger: Ledger;
    const own = (c: string) => Array.from({ length: 60 }, (_, i) => `p-${c.slice(3)}-${i + 1}`);

    before(async () => {
      ({ db, close } = await openBackendDb(engine, dir.path));
      ledger = new Ledger(db);
      for (const c of CLINICIANS) {
        await addClinician(db, c, c, () => new Date(T0));
        for (const p of own(c)) await patient(db, p, `Family${p.replace(/\W/g, '')}`, { line: [`${p} Road`], city: 'Leeds', postalCode: 'LS1 1AA' });
        await assign(db, c, own(c));
      }
      // e: dr.a's relative (same surname, written differently), assigned to dr.a.
      await patient(db, 'p-relative', 'MULLER', { line: ['1 Elm Street'], city: 'York', postalCode: 'YO1 7HH' });
      await assign(db, 'dr.a', ['p-relative']);
      await setStaffDetails(db, 'dr.a', { surname: 'Müller', address: { line: ['9 Oak Lane'], city: 'Leeds', postalCode: 'LS2 9JT' } });
      // f: a VIP (admin marker) assigned to dr.b, and a staff patient labelled in the record itself, never opened.
      await patient(db, 'p-vip', 'Famous', { line: ['2 Palace Road'], city: 'London', postalCode: 'SW1A 1AA' });
      await assign(db, 'dr.b', ['p-vip']);
      await setPatientMarker(db, 'p-vip', 'vip', true, () => new Date(T0));
      await patient(db, 'p-staff', 'Nurse', undefined, { security: [{ system: 'urn:clinician-desktop:patient-flag', code: 'staff' }] });
      // A patient nobody is assigned to.
      await patient(db, 'p-stranger', 'Stranger');

      // Ordinary work: each working day 08:00-17:00, 10-14 of their own patients read, about half of them charted.
      const rnd = lcg(42);
      for (const c of CLINICIANS) {
        for (let day = 0; day < DAYS; day++) {
          if (day % 7 >= 5 && c !== 'dr.c') continue; // weekends off (dr.c works them)
          if (c === 'dr.h' && day === 8) continue; // dr.h's day of the injected search (below)
          if (c === 'dr.i' && day === 7) continue; // dr.i's day of the offline burst (below)
          const n = 10 + Math.floor(rnd() * 5);
          const start = Math.floor(rnd() * 60);
          for (let k = 0; k < n; k++) {
            const p = own(c)[Math.floor(rnd() * 60)]!;
            const minute = start + Math.floor((k * 480) / n);
            ledger.add(c, { at: at(day, 8, minute, k), patientId: p });
            if (k % 2 === 0) ledger.add(c, { at: at(day, 8, minute + 5, k), patientId: p, action: 'U', subtype: 'update' });
          }
          // a few offline reads, spread out (a lost connection on a ward): not a burst
          if (day === 3) for (let k = 0; k < 3; k++) ledger.add(c, { at: at(day, 15, k * 20), patientId: own(c)[k]!, network: 'offline' });
        }
      }
      // dr.c works nights on weekends (22:00-02:00): their own shift pattern, not after-hours snooping.
      for (const day of [5, 6, 12, 13]) for (let k = 0; k < 6; k++) ledger.add('dr.c', { at: at(day, 22, k * 30), patientId: own('dr.c')[k]! });

      // a. dr.d breaks the glass for a stranger on day 10 and reads under it.
      ledger.add('dr.d', { at: at(10, 11, 0), patientId: 'p-stranger', action: 'E', subtype: 'break-glass', purpose: 'ETREAT', tag: 'a' });
      ledger.add('dr.d', { at: at(10, 11, 2), patientId: 'p-stranger', purpose: 'ETREAT', tag: 'a' });
      // b. dr.e opens one of dr.a's patients on day 11.
      ledger.add('dr.e', { at: at(11, 10, 15), patientId: own('dr.a')[4]!, tag: 'b' });
      // c. dr.f opens 40 of their own patients on day 12, spread over the day, charting as usual.
      for (let k = 0; k < 40; k++) {
        ledger.add('dr.f', { at: at(12, 8, k * 12), patientId: own('dr.f')[k]!, tag: 'c' });
        if (k % 2 === 0) ledger.add('dr.f', { at: at(12, 8, k * 12 + 3), patientId: own('dr.f')[k]!, action: 'U', subtype: 'update', tag: 'c' });
      }
      // d. dr.g opens two of their own patients at 23:30 on day 9.
      ledger.add('dr.g', { at: at(9, 23, 30), patientId: own('dr.g')[0]!, tag: 'd' });
      ledger.add('dr.g', { at: at(9, 23, 35), patientId: own('dr.g')[1]!, tag: 'd' });
      // e. dr.a opens the relative's record on day 4.
      ledger.add('dr.a', { at: at(4, 12, 0), patientId: 'p-relative', tag: 'e' });
      // f. dr.b opens the VIP's record on day 6... on a weekday: day 2.
      ledger.add('dr.b', { at: at(2, 13, 0), patientId: 'p-vip', tag: 'f' });
      // g. dr.h opens 20 of their own patients in 40 minutes on day 8 and charts nothing.
      for (let k = 0; k < 20; k++) ledger.add('dr.h', { at: at(8, 10, k * 2), patientId: own('dr.h')[k]!, tag: 'g' });
      // h. dr.i reads 12 of their own patients offline within 20 minutes on day 7 (charting some, so not g).
      for (let k = 0; k < 12; k++) {
        ledger.add('dr.i', { at: at(7, 14, k * 1.5 > 59 ? 59 : Math.floor(k * 1.5)), patientId: own('dr.i')[k]!, network: 'offline', tag: 'h' });
        if (k % 3 === 0) ledger.add('dr.i', { at: at(7, 14, Math.floor(k * 1.5), 30), patientId: own('dr.i')[k]!, action: 'U', subtype: 'update', network: 'offline', tag: 'h' });
      }
      await ledger.flush();
    });

    after(async () => {
      await close();
      dir.remove();
    });

    const EXPECTED: Record<string, { clinicianId: string; patientId: string | null; tag: string }> = {
      'break-glass': { clinicianId: 'dr.d', patientId: 'p-stranger', tag: 'a' },
      'unassigned-access': { clinicianId: 'dr.e', patientId: 'p-a-5', tag: 'b' },
      'volume-spike': { clinicianId: 'dr.f', patientId: null, tag: 'c' },
      'after-hours': { clinicianId: 'dr.g', patientId: null, tag: 'd' },
      'same-surname-or-address': { clinicianId: 'dr.a', patientId: 'p-relative', tag: 'e' },
      'vip-or-staff': { clinicianId: 'dr.b', patientId: 'p-vip', tag: 'f' },
      'many-charts-no-charting': { clinicianId: 'dr.h', patientId: null, tag: 'g' },
      'offline-burst': { clinicianId: 'dr.i', patientId: null, tag: 'h' },
    };

    test('each injected behaviour raises exactly its own flag, and ordinary work (including a night-shift pattern) raises none', async () => {
      const report = await runMonitor(db);
      assert.equal(report.ingested, ledger.refs.length);
      const flags = await allFlags(db);
      const got = flags.map((f) => `${f.rule} ${f.clinicianId} ${f.patientId ?? '-'}`).sort();
      const want = Object.entries(EXPECTED)
        .map(([rule, e]) => `${rule} ${e.clinicianId} ${e.patientId ?? '-'}`)
        .sort();
      assert.deepEqual(got, want);
      assert.equal(report.raised, 8);
    });

    test('every flag explains itself and cites the injected entries (device id and seq), with the numbers that fired it', async () => {
      const flags = await allFlags(db);
      for (const f of flags) {
        const e = EXPECTED[f.rule]!;
        assert.ok(f.explanation.length > 20 && !f.explanation.includes('\n'), `${f.rule}: one sentence`);
        assert.ok(f.evidence.refs.length > 0, `${f.rule} cites entries`);
        const injected = new Set(ledger.refs.filter((r) => r.tag === e.tag).map((r) => `${r.deviceId}#${r.seq}`));
        for (const ref of f.evidence.refs) {
          assert.equal(ref.kind, 'device');
          assert.ok(injected.has(`${ref.kind === 'device' ? ref.deviceId : ''}#${ref.seq}`), `${f.rule} cites only injected entries`);
        }
        assert.equal(typeof f.evidence.numbers.from, 'string');
        assert.equal(typeof f.evidence.numbers.to, 'string');
      }
      const byRule = Object.fromEntries(flags.map((f) => [f.rule, f]));
      const volume = byRule['volume-spike']!.evidence.numbers;
      assert.equal(volume.today, 40);
      assert.ok(Number(volume.median) >= 7 && Number(volume.median) <= 14, `median ${volume.median}`);
      assert.ok(Number(volume.threshold) < 40 && Number(volume.threshold) >= Number(volume.median) + 10, `threshold ${volume.threshold}`);
      assert.equal(typeof volume.mad, 'number');
      assert.equal(byRule['volume-spike']!.evidence.refs.length, 40);
      assert.equal(byRule['many-charts-no-charting']!.evidence.numbers.patients, 20);
      assert.equal(byRule['offline-burst']!.evidence.numbers.patients, 12);
      assert.equal(byRule['after-hours']!.evidence.numbers.localHours, '23:00');
      assert.equal(byRule['same-surname-or-address']!.evidence.numbers.matches, 'surname');
      assert.equal(byRule['vip-or-staff']!.evidence.numbers.marker, 'vip');
      assert.equal(byRule['break-glass']!.evidence.numbers.grantEntries, 1);
      assert.equal(byRule['break-glass']!.evidence.refsTotal, 2);
    });

    test('a second run finds nothing new; a full re-run dedupes to the same flags', async () => {
      const again = await runMonitor(db);
      assert.equal(again.ingested, 0);
      assert.equal(again.span, null);
      assert.equal(again.raised, 0);
      const full = await runMonitor(db, { full: true });
      assert.equal(full.raised, 0);
      assert.equal(full.found['volume-spike'], 1);
      assert.equal((await allFlags(db)).length, 8);
    });

    test('an incremental run judges only the new entries: a later snoop is flagged, nothing earlier again', async () => {
      ledger.add('dr.c', { at: at(13, 12, 0), patientId: 'p-vip', tag: 'late' });
      await ledger.flush();
      const r = await runMonitor(db);
      assert.equal(r.ingested, 1);
      assert.equal(r.raised, 2); // dr.c: unassigned and a VIP
      const late = (await allFlags(db)).filter((f) => f.clinicianId === 'dr.c').map((f) => f.rule).sort();
      assert.deepEqual(late, ['unassigned-access', 'vip-or-staff']);
    });

    test('raiseFlag is idempotent by its dedupe key (the break-the-glass grant and the runner agree on one flag)', async () => {
      const input = {
        rule: 'break-glass' as const,
        clinicianId: 'dr.d',
        patientId: 'p-stranger',
        explanation: 'The clinician broke the glass.',
        evidence: { refs: [{ kind: 'backend' as const, seq: 1 }], refsTotal: 1, numbers: {} },
        dedupeKey: `break-glass:dr.d:p-stranger:${at(10, 0).slice(0, 10)}`,
        at: at(10, 11),
      };
      const existing = (await allFlags(db)).find((f) => f.rule === 'break-glass')!;
      const first = await raiseFlag(db, input);
      assert.deepEqual(first, { id: existing.id, created: false });
      const other = await raiseFlag(db, { ...input, dedupeKey: 'break-glass:dr.d:p-stranger:2026-04-01' });
      assert.equal(other.created, true);
      assert.deepEqual(await raiseFlag(db, { ...input, dedupeKey: 'break-glass:dr.d:p-stranger:2026-04-01' }), { id: other.id, created: false });
    });

    test('a common surname alone raises nothing (Dr Smith treating a Smith); a shared address does', async () => {
      const smiths = ['p-smith-1', 'p-smith-2', 'p-smith-3'];
      for (const [i, p] of smiths.entries()) await patient(db, p, 'Smith', { line: [`${i + 1} Mill Road`], city: 'Hull', postalCode: 'HU1 1AA' });
      await assign(db, 'dr.e', smiths);
      await setStaffDetails(db, 'dr.e', { surname: 'Smith' });
      ledger.add('dr.e', { at: at(13, 9, 0), patientId: 'p-smith-1', tag: 'common' });
      await ledger.flush();
      const quiet = await runMonitor(db);
      assert.equal(quiet.found['same-surname-or-address'], 0, 'three of ~550 patients are Smiths: common');
      await setStaffDetails(db, 'dr.e', { surname: 'Smith', address: { line: ['2 Mill Road'], city: 'Hull', postalCode: 'hu1 1aa' } });
      ledger.add('dr.e', { at: at(13, 9, 5), patientId: 'p-smith-2', tag: 'home' });
      await ledger.flush();
      const home = await runMonitor(db);
      assert.equal(home.found['same-surname-or-address'], 1);
      const flag = (await allFlags(db)).find((f) => f.rule === 'same-surname-or-address' && f.clinicianId === 'dr.e')!;
      assert.equal(flag.patientId, 'p-smith-2');
      assert.equal(flag.evidence.numbers.matches, 'surname and address');
    });

    test('patient keys are refreshed past many Patients sharing one change number (a bundle load, an assignment)', async () => {
      const rows = Array.from({ length: 1001 }, (_, i) => ({
        resource_type: 'Patient',
        id: `p-bulk-${String(i).padStart(4, '0')}`,
        patient_id: `p-bulk-${String(i).padStart(4, '0')}`,
        json: JSON.stringify({ resourceType: 'Patient', id: `p-bulk-${i}`, name: [{ family: `Bulk${i}` }] }),
        change_seq: 999_999,
      }));
      for (let i = 0; i < rows.length; i += 200) await db.insertInto('resources').values(rows.slice(i, i + 200)).execute();
      await runMonitor(db);
      const keyed = await db.selectFrom('privacy_patient_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('patient_id', 'like', 'p-bulk-%').executeTakeFirstOrThrow();
      assert.equal(Number(keyed.n), 1001);
    });

    const judgeAfterHours = async () => {
      const policy = await readMonitorPolicy(db);
      const span = { fromEpoch: T0 / 1000, toEpoch: T0 / 1000 + DAYS * 86_400 };
      return afterHoursRule({ db, policy, span, local: localTimeFor(policy, span) });
    };

    test('a roster decides after hours: on call is within policy; a rostered clinician is judged by the roster alone', async () => {
      assert.deepEqual((await judgeAfterHours()).map((f) => f.clinicianId), ['dr.g']);
      // dr.g was on call that night: the 23:30 reads are within policy.
      await addRota(db, [{ clinicianId: 'dr.g', kind: 'on-call', startsAt: at(9, 19), endsAt: at(10, 7) }]);
      // dr.c's roster says weekday day shifts only: their weekend night reads are no longer "their usual hours".
      await addRota(db, Array.from({ length: DAYS }, (_, day) => ({ clinicianId: 'dr.c', kind: 'shift' as const, startsAt: at(day, 7), endsAt: at(day, 19) })).filter((_, day) => day % 7 < 5));
      const flags = await judgeAfterHours();
      assert.deepEqual([...new Set(flags.map((f) => f.clinicianId))], ['dr.c']);
      // Weekend nights 22:00-00:30: both sides of each midnight.
      assert.deepEqual(flags.map((f) => f.evidence.numbers.day).sort(), ['2026-03-07', '2026-03-08', '2026-03-09', '2026-03-14', '2026-03-15', '2026-03-16']);
      await db.deleteFrom('privacy_rota').execute();
    });

    test('working hours and time zone are policy: 23:30 UTC is 16:30 in Los Angeles, inside 07:00-19:00 there', async () => {
      const judge = async () => {
        const policy = await readMonitorPolicy(db);
        const span = { fromEpoch: T0 / 1000, toEpoch: T0 / 1000 + DAYS * 86_400 };
        return afterHoursRule({ db, policy, span, local: localTimeFor(policy, span) });
      };
      assert.deepEqual((await judge()).map((f) => f.clinicianId), ['dr.g']);
      await setMonitorPolicy(db, 'timeZone', 'America/Los_Angeles');
      // dr.g's 23:30 UTC reads (11 March, after the change to summer time) are 16:30 local now: inside working hours.
      assert.equal((await judge()).filter((f) => f.clinicianId === 'dr.g').length, 0, "dr.g's reads are inside working hours in Los Angeles");
      await assert.rejects(setMonitorPolicy(db, 'timeZone', 'Mars/Olympus'));
      await assert.rejects(setMonitorPolicy(db, 'workingHours', { start: '25:00', end: '19:00' }));
      await assert.rejects(setMonitorPolicy(db, 'noSuchKey', 1));
      await setMonitorPolicy(db, 'timeZone', 'UTC');
    });
  });
}
