/**
 * Governed print through the handler registry on a real encrypted cache:
 * print.prepare needs a reason, reads the chart exactly as chart.open does
 * and audits the print (format, reason, free text, every resource shown) in
 * the same transaction, and hands back a single-use printId bound to the
 * patient and the window, with the watermark (clinician, time,
 * "Confidential"); print.output prints only a prepared, unused, unexpired id
 * from the same window, to the printer (the OS print dialog) or as a PDF
 * saved where the save dialog said (0600), rendered here by real headless
 * Chromium and read back with pdftotext: the watermark is on every page.
 * webContents.print itself needs the Electron binary: a recording stand-in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { importBundle } from '../electron/services/bundle-import';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { chartEncounters, chartResults, openChart } from '../electron/services/patient-records';
import { PRINT_TICKET_MS } from '../electron/services/export/print-tickets';
import { parseCanonicalAuditEntry, exportFacts, type AuditEntry } from '../shared/audit-entry';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { exportRig, WINDOW_1, WINDOW_2, type ExportRig } from './support/export-harness';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';
import { launchChromium } from './browser/harness';

const patient = loadFixturePatients()[0]!;
const scratch = scratchDir('print');
const keychain = testKeychain();
const out = join(scratch.path, 'chosen-folder');
let session: CacheSession;
let rig: ExportRig;
let browser: Browser;

before(async () => {
  session = await openCacheSession({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.print', actorName: 'Dr Pat Print', create: true });
  await importBundle(session, readFileSync(SYNTHEA_FILES[0]!));
  mkdirSync(out);
  rig = exportRig(() => session, out);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await session.close();
  scratch.remove();
  await keychain.cleanup();
});

/** The test's own connection to the open session's cache file (./support/cache-inspect.ts). */
const cacheDb = () => inspectCache(session, keychain);
async function lastSeq(): Promise<number> {
  return ((await cacheDb()).prepare('SELECT coalesce(max(seq), 0) FROM audit_log').pluck().get() as number) ?? 0;
}
async function entriesSince(seq: number): Promise<AuditEntry[]> {
  return ((await cacheDb()).prepare('SELECT entry FROM audit_log WHERE seq > ? ORDER BY seq').pluck().all(seq) as string[]).map((e) => parseCanonicalAuditEntry(e)!);
}
const reason = { code: 'patient-request', text: '' } as const;

interface Prepared {
  printId: string;
  chart: Awaited<ReturnType<typeof openChart>>;
  watermark: { clinician: string; at: string; label: string };
}
async function prepare(output: 'pdf' | 'printer', caller = WINDOW_1): Promise<Prepared> {
  const r = await rig.call('print.prepare', { patientId: patient.id, reason, output }, caller);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value as Prepared;
}

test('print.prepare without a reason, with "other" and no words, or with a path is INVALID_INPUT: nothing read or audited', async () => {
  const seq = await lastSeq();
  for (const payload of [
    { patientId: patient.id, output: 'printer' },
    { patientId: patient.id, output: 'printer', reason: { code: 'other', text: '' } },
    { patientId: patient.id, output: 'pdf', reason, path: '/tmp/x.pdf' },
    { patientId: patient.id, output: 'file', reason },
  ]) {
    const r = await rig.call('print.prepare', payload);
    assert.equal(!r.ok && r.error.code, 'INVALID_INPUT', JSON.stringify(payload));
  }
  assert.deepEqual(await entriesSince(seq), []);
});

test('print.prepare reads the chart as chart.open and chart.results do and audits the print in the same transaction, with the watermark and a printId', async () => {
  const seq = await lastSeq();
  const p = await prepare('printer');
  assert.match(p.printId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(p.watermark, { clinician: 'Dr Pat Print', at: '2026-11-26T09:00:00.000Z', label: 'Confidential' });
  const entries = await entriesSince(seq);
  // chart.open's own read entries, then the print's, all in one commit (consecutive seqs, nothing between).
  const reads = entries.filter((e) => e.subtype === 'read');
  const prints = entries.filter((e) => e.subtype === 'print');
  assert.ok(reads.length >= 1 && prints.length >= 1);
  assert.deepEqual(entries.map((e) => e.subtype), [...reads.map(() => 'read'), ...prints.map(() => 'print')]);
  for (const e of prints) {
    assert.equal(e.action, 'R');
    assert.equal(e.patientId, patient.id);
    assert.equal(e.actor, 'dr.print');
    assert.equal(e.purpose, 'TREAT');
    assert.equal(e.outcome, '0');
    assert.equal(e.query, null, 'no free text given');
    assert.deepEqual(e.entities.slice(0, 2), exportFacts({ format: 'printer', reason: 'patient-request' }));
  }
  assert.deepEqual(p.chart.latestObservations, [], 'the print holds the history instead');
  const shown = [`Patient/${patient.id}`, ...Object.entries(p.chart.groups).flatMap(([type, g]) => g.items.map((i) => `${type}/${i.id}`))];
  assert.deepEqual(prints.flatMap((e) => e.entities.slice(2)).sort(), shown.sort(), 'the print entry names every resource shown');
  // chart.open's chart with the Results and Encounters tabs' groups in it (each audits its own read again here).
  const opened = await openChart(session, patient.id);
  const deferred = { Observation: await chartResults(session, patient.id), Encounter: await chartEncounters(session, patient.id) };
  assert.ok(deferred.Encounter.items.length > 0, 'the patient has encounters: the print holds them');
  assert.deepEqual(p.chart, { ...opened, groups: { ...opened.groups, ...deferred }, latestObservations: [] });
});

test('print.output to the printer: the caller window is printed once; the printId is single use', async () => {
  const p = await prepare('printer');
  const before = rig.printer.printed.length;
  const r = await rig.call('print.output', { printId: p.printId });
  assert.deepEqual(r, { ok: true, value: { done: true } });
  assert.equal(rig.printer.printed.length, before + 1);
  assert.equal(rig.printer.printed.at(-1), WINDOW_1, 'the calling window is the one printed');
  const again = await rig.call('print.output', { printId: p.printId });
  assert.equal(!again.ok && again.error.code, 'INVALID_INPUT');
  assert.equal(rig.printer.printed.length, before + 1, 'nothing printed the second time');
});

test('print.output from another window, with an unknown id, or after two minutes prints nothing', async () => {
  const p = await prepare('printer', WINDOW_1);
  const before = rig.printer.printed.length;
  const other = await rig.call('print.output', { printId: p.printId }, WINDOW_2);
  assert.equal(!other.ok && other.error.code, 'INVALID_INPUT');
  const unknown = await rig.call('print.output', { printId: '00000000-0000-4000-8000-000000000000' });
  assert.equal(!unknown.ok && unknown.error.code, 'INVALID_INPUT');
  assert.equal(rig.printer.printed.length, before);
  // Another window's attempt did not use it up: the window that prepared it still can (within the time).
  assert.deepEqual(await rig.call('print.output', { printId: p.printId }, WINDOW_1), { ok: true, value: { done: true } });

  const late = await prepare('printer');
  rig.now.value = new Date(rig.now.value.getTime() + PRINT_TICKET_MS + 1);
  try {
    const expired = await rig.call('print.output', { printId: late.printId });
    assert.equal(!expired.ok && expired.error.code, 'INVALID_INPUT');
    assert.match(!expired.ok ? expired.error.message : '', /Prepare it again/);
  } finally {
    rig.now.value = new Date('2026-11-26T09:00:00.000Z');
  }
  assert.equal(rig.printer.printed.length, before + 1);
});

test('a cancelled print dialog: done false, and the id is used up', async () => {
  const p = await prepare('printer');
  rig.printer.printAnswer = false;
  try {
    assert.deepEqual(await rig.call('print.output', { printId: p.printId }), { ok: true, value: { done: false } });
  } finally {
    rig.printer.printAnswer = true;
  }
  const again = await rig.call('print.output', { printId: p.printId });
  assert.equal(!again.ok && again.error.code, 'INVALID_INPUT');
});

test('print.output as PDF: saved where the save dialog said, 0600, and Chromium\'s PDF carries the watermark on every page', async () => {
  const p = await prepare('pdf');
  // The print view as a renderer would draw it: the chart's items, the watermark fixed on every printed page.
  const page = await browser.newPage();
  const items = Object.values(p.chart.groups).flatMap((g) => g.items.map((i) => `<p>${i.resourceType} ${i.id}</p>`));
  const mark = `${p.watermark.label} · ${p.watermark.clinician} · ${p.watermark.at}`;
  await page.setContent(
    `<style>.wm{position:fixed;top:0;left:0;font:10pt sans-serif}</style><div class="wm">${mark}</div><main style="padding-top:2em">${items.join('')}</main>`,
  );
  rig.printer.pdfBytes = await page.pdf({ format: 'A4' });
  await page.close();
  rig.destination.answer = 'printed';
  const r = await rig.call('print.output', { printId: p.printId });
  assert.deepEqual(r, { ok: true, value: { done: true } });
  assert.equal(rig.destination.asked.at(-1)!.format, 'pdf');
  const file = join(out, 'printed.pdf');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
  const pages = text.split('\f').filter((t) => t.trim() !== '');
  assert.ok(pages.length >= 2, `a multi-page chart (${pages.length} pages)`);
  for (const [i, t] of pages.entries()) assert.ok(t.includes('Confidential') && t.includes('Dr Pat Print') && t.includes(p.watermark.at), `page ${i + 1} carries the watermark`);
});

test('a cancelled PDF save dialog: done false, nothing rendered or written', async () => {
  const p = await prepare('pdf');
  const rendered = rig.printer.rendered.length;
  const files = readdirSync(out);
  rig.destination.answer = null;
  assert.deepEqual(await rig.call('print.output', { printId: p.printId }), { ok: true, value: { done: false } });
  assert.equal(rig.printer.rendered.length, rendered);
  assert.deepEqual(readdirSync(out), files);
});

test('policy limits print to paper: PDF is EXPORT_DISABLED at prepare (the refusal audited, nothing read) and at output', async () => {
  const ready = await prepare('pdf');
  rig.policy.formats = ['printer'];
  try {
    const seq = await lastSeq();
    const r = await rig.call('print.prepare', { patientId: patient.id, reason, output: 'pdf' });
    assert.equal(!r.ok && r.error.code, 'EXPORT_DISABLED');
    const entries = await entriesSince(seq);
    assert.deepEqual(entries.map((e) => [e.subtype, e.outcome]), [['print', '4']], 'one refusal entry, no read');
    assert.deepEqual(entries[0]!.entities, [...exportFacts({ format: 'pdf', reason: 'patient-request' }), `Patient/${patient.id}`]);
    // A PDF prepared before the policy changed is not written after it.
    rig.destination.answer = 'late.pdf';
    const late = await rig.call('print.output', { printId: ready.printId });
    assert.equal(!late.ok && late.error.code, 'EXPORT_DISABLED');
    assert.equal(existsSync(join(out, 'late.pdf')), false);
    // Paper still works.
    const paper = await rig.call('print.prepare', { patientId: patient.id, reason, output: 'printer' });
    assert.equal(paper.ok, true);
    rig.policy.formats = [];
    const none = await rig.call('print.prepare', { patientId: patient.id, reason, output: 'printer' });
    assert.equal(!none.ok && none.error.code, 'EXPORT_DISABLED');
  } finally {
    rig.policy.formats = ['fhir-json', 'pdf', 'printer'];
  }
});

test('a lock between prepare and output: the id belongs to the closed session and prints nothing', async () => {
  const { createExportSurface } = await import('../electron/services/export/export-surface');
  let current: CacheSession = session;
  const surface = createExportSurface({ session: () => current, policy: () => rig.policy, destination: rig.destination, printer: rig.printer, clock: () => rig.now.value });
  const prepared = await surface.preparePrint({ patientId: patient.id, reason, output: 'printer' }, WINDOW_1);
  const before = rig.printer.printed.length;
  // A different session object, as after a lock and a new unlock.
  current = { ...session } as CacheSession;
  await assert.rejects(surface.output({ printId: prepared.printId }, WINDOW_1), (e: { code?: string }) => e.code === 'INVALID_INPUT');
  assert.equal(rig.printer.printed.length, before);
});
