/**
 * Governed export of a patient's summary as a FHIR R4 Bundle, through the
 * handler registry on a real encrypted cache (Synthea fixtures): a reason is
 * required ('other' needs words); the file goes only where the save
 * destination says, 0600, written atomically; the Bundle is an IPS-shaped
 * document marked restricted, naming the exporting clinician and the time;
 * the audit entry (subtype export, format and reason URNs, the free text,
 * the resources read) commits with the read or not at all; policy off
 * refuses before reading and the refusal is audited; a cancelled dialog
 * reads and audits nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { saveNoteDraft, signNote } from '../electron/services/charting';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { parseCanonicalAuditEntry, exportFacts, type AuditEntry } from '../shared/audit-entry';
import { fhirResourceSchema } from '../shared/contract';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { exportRig, WINDOW_1, type ExportRig } from './support/export-harness';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patient = loadFixturePatients()[0]!;
const scratch = scratchDir('export-fhir');
const keychain = testKeychain();
const out = join(scratch.path, 'chosen-folder');
let session: CacheSession;
let rig: ExportRig;
let signedNoteId: string;
let draftNoteId: string;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

before(async () => {
  session = await openCacheSession({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.export', actorName: 'Dr Ada Export', create: true });
  await importBundle(session, readFileSync(SYNTHEA_FILES[0]!));
  const now = new Date('2026-11-25T10:00:00Z');
  const signed = await saveNoteDraft(session, { patientId: patient.id, subjective: 'Cough', objective: 'Clear chest', assessment: 'URTI', plan: 'Fluids' }, now);
  await signNote(session, signed.noteId, now);
  signedNoteId = signed.noteId;
  draftNoteId = (await saveNoteDraft(session, { patientId: patient.id, subjective: 'Unfinished thought', objective: '', assessment: '', plan: '' }, now)).noteId;
  mkdirSync(out);
  rig = exportRig(() => session, out);
});
after(async () => {
  await session.close();
  scratch.remove();
  await keychain.cleanup();
});

/** The cache's own connection of the test's (./support/cache-inspect.ts) to the open session's file. */
const cacheDb = () => inspectCache(session, keychain);
async function entriesSince(seq: number): Promise<AuditEntry[]> {
  return ((await cacheDb()).prepare('SELECT entry FROM audit_log WHERE seq > ? ORDER BY seq').pluck().all(seq) as string[]).map((e) => parseCanonicalAuditEntry(e)!);
}
async function lastSeq(): Promise<number> {
  return ((await cacheDb()).prepare('SELECT coalesce(max(seq), 0) FROM audit_log').pluck().get() as number) ?? 0;
}
const reason = { code: 'referral', text: 'Referral to cardiology at St Elsewhere' } as const;

test('export.fhir without a reason, or with "other" and no words, or with a path, is INVALID_INPUT: no dialog, nothing read or audited', async () => {
  const seq = await lastSeq();
  const asked = rig.destination.asked.length;
  const noReason = await rig.call('export.fhir', { patientId: patient.id });
  assert.equal(noReason.ok, false);
  assert.equal(!noReason.ok && noReason.error.code, 'INVALID_INPUT');
  const other = await rig.call('export.fhir', { patientId: patient.id, reason: { code: 'other', text: '   ' } });
  assert.equal(!other.ok && other.error.code, 'INVALID_INPUT');
  assert.deepEqual(!other.ok && other.error.fields?.map((f) => [f.field, f.message]), [['reason.text', 'Say why, in a few words.']]);
  const unknownCode = await rig.call('export.fhir', { patientId: patient.id, reason: { code: 'curiosity', text: '' } });
  assert.equal(!unknownCode.ok && unknownCode.error.code, 'INVALID_INPUT');
  // The renderer never chooses a file path: the strict contract refuses the key itself.
  const withPath = await rig.call('export.fhir', { patientId: patient.id, reason, path: join(out, 'mine.json') });
  assert.equal(!withPath.ok && withPath.error.code, 'INVALID_INPUT');
  const withFileName = await rig.call('export.fhir', { patientId: patient.id, reason, fileName: 'mine.json' });
  assert.equal(!withFileName.ok && withFileName.error.code, 'INVALID_INPUT');
  assert.equal(rig.destination.asked.length, asked, 'no save dialog');
  assert.deepEqual(await entriesSince(seq), [], 'nothing audited');
  assert.equal(existsSync(join(out, 'mine.json')), false);
});

test('export.fhir with a reason saves the Bundle where the save dialog said, mode 0600, atomically, and audits it with the read', async () => {
  const seq = await lastSeq();
  rig.destination.answer = 'summary';
  const r = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.equal(r.ok, true, JSON.stringify(r));
  const asked = rig.destination.asked.at(-1)!;
  assert.equal(asked.format, 'fhir-json');
  assert.equal(asked.caller, WINDOW_1, 'the dialog belongs to the calling window');
  assert.match(asked.suggestedName, /^patient-summary-2026-11-26-09-00\.json$/, 'the suggested name carries no patient name or id');
  const file = join(out, 'summary.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(out), ['summary.json'], 'no temporary file left behind');
  const bundle = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const output = r.ok ? (r.value as { saved: boolean; resources: number }) : null;
  assert.equal(output?.saved, true);
  assert.equal(output?.resources, bundle.entry.length - 2, 'every cache resource counted (not the Composition and Practitioner made for the export)');

  const entries = await entriesSince(seq);
  assert.ok(entries.length >= 1);
  for (const e of entries) {
    assert.equal(e.subtype, 'export');
    assert.equal(e.action, 'R');
    assert.equal(e.patientId, patient.id);
    assert.equal(e.actor, 'dr.export');
    assert.equal(e.purpose, 'TREAT', "the session's purpose");
    assert.equal(e.outcome, '0');
    assert.equal(e.query, reason.text, 'the free text in query');
    assert.deepEqual(e.entities.slice(0, 2), exportFacts({ format: 'fhir-json', reason: 'referral' }));
  }
  const named = new Set(entries.flatMap((e) => e.entities.slice(2)));
  for (const entry of bundle.entry as Json[]) {
    const ref = `${entry.resource.resourceType}/${entry.resource.id}`;
    if (entry.resource.resourceType === 'Composition' && entry.resource.type.coding[0].code === '60591-5') continue;
    if (entry.resource.resourceType === 'Practitioner') continue;
    assert.ok(named.has(ref), `the audit names ${ref}`);
  }
  assert.equal(verifyAuditChain(await cacheDb(), session.keys.publicKey, session.context.deviceId).ok, true);
});

test('the Bundle is an IPS-shaped FHIR document: Composition first, restricted, authored by the exporting clinician at the export time, every reference resolving', () => {
  const bundle = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Json;
  assert.equal(bundle.resourceType, 'Bundle');
  assert.equal(bundle.type, 'document');
  assert.equal(bundle.timestamp, '2026-11-26T09:00:00.000Z');
  assert.match(bundle.identifier.value, /^urn:uuid:[0-9a-f-]{36}$/);
  assert.deepEqual(bundle.meta.security, [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', display: 'restricted' }]);
  const urls = new Map<string, Json>();
  for (const e of bundle.entry as Json[]) {
    assert.match(e.fullUrl, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(urls.has(e.fullUrl), false, 'fullUrls are unique');
    urls.set(e.fullUrl, e.resource);
    assert.equal(fhirResourceSchema.safeParse(e.resource).success, true, 'each entry is a FHIR resource');
    assert.ok(!['Claim', 'ExplanationOfBenefit'].includes(e.resource.resourceType), 'no billing resources');
  }
  const composition = bundle.entry[0].resource as Json;
  assert.equal(composition.resourceType, 'Composition');
  assert.equal(composition.status, 'final');
  assert.deepEqual(composition.type.coding[0], { system: 'http://loinc.org', code: '60591-5', display: 'Patient summary Document' });
  assert.equal(composition.confidentiality, 'R');
  assert.equal(composition.date, '2026-11-26T09:00:00.000Z');
  assert.equal(urls.get(composition.subject.reference)?.resourceType, 'Patient');
  assert.equal(urls.get(composition.subject.reference)?.id, patient.id);
  const author = urls.get(composition.author[0].reference)!;
  assert.equal(author.resourceType, 'Practitioner');
  assert.equal(author.name[0].text, 'Dr Ada Export');
  assert.deepEqual(author.identifier[0].value, 'dr.export');
  assert.equal(composition.author[0].display, 'Dr Ada Export');

  const sections = new Map<string, Json>((composition.section as Json[]).map((s) => [s.code.coding[0].code, s]));
  for (const required of ['11450-4', '10160-0', '48765-2']) assert.ok(sections.has(required), `IPS section ${required} present`);
  for (const s of composition.section as Json[]) {
    assert.equal(s.code.coding[0].system, 'http://loinc.org');
    assert.match(s.text.div, /^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    assert.ok((s.entry?.length ?? 0) > 0 || s.emptyReason, 'an empty section says why');
    for (const ref of s.entry ?? []) assert.ok(urls.has(ref.reference), `section entry ${ref.reference} resolves in the Bundle`);
  }
  const types = (code: string) => (sections.get(code)?.entry ?? []).map((r: Json) => urls.get(r.reference)!.resourceType);
  assert.ok(types('11450-4').length > 0 && types('11450-4').every((t: string) => t === 'Condition'), 'problems are Conditions');
  assert.ok(types('11369-6').every((t: string) => t === 'Immunization') && types('11369-6').length > 0);
  const vitals = (sections.get('8716-3')!.entry as Json[]).map((r) => urls.get(r.reference)!);
  assert.ok(vitals.length > 0 && vitals.every((o) => o.category.some((c: Json) => c.coding.some((k: Json) => k.code === 'vital-signs'))), 'vital signs only in their section');
  const results = (sections.get('30954-2')!.entry as Json[]).map((r) => urls.get(r.reference)!);
  assert.ok(results.every((o) => !(o.category ?? []).some((c: Json) => c.coding.some((k: Json) => k.code === 'vital-signs'))));
  const notes = (sections.get('11506-3')!.entry as Json[]).map((r) => urls.get(r.reference)!);
  assert.deepEqual(notes.map((n) => n.id), [signedNoteId], 'the signed note, never the draft');
  assert.ok(!JSON.stringify(bundle).includes(draftNoteId), 'the draft is nowhere in the file');
  // Every reference from one Bundle resource to another points at its fullUrl.
  const text = JSON.stringify(bundle.entry.slice(1));
  assert.ok(!text.includes(`"Patient/${patient.id}"`), 'references to the patient are rewritten to its fullUrl');
});

test('a cancelled save dialog: saved false, nothing read, nothing audited, no file', async () => {
  const seq = await lastSeq();
  const before = readdirSync(out);
  rig.destination.answer = null;
  const r = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.deepEqual(r, { ok: true, value: { saved: false, resources: 0 } });
  assert.deepEqual(await entriesSince(seq), []);
  assert.deepEqual(readdirSync(out), before);
});

test('a failure to write the file (the chosen folder cannot be written): no file; the export entry, committed first, is followed by a failure entry', async () => {
  const seq = await lastSeq();
  rig.destination.answer = join(out, 'no-such-folder', 'summary.json');
  const r = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.equal(!r.ok && r.error.code, 'INVALID_INPUT');
  assert.equal(!r.ok && /could not be written/.test(r.error.message), true);
  const entries = (await entriesSince(seq)).filter((e) => e.subtype === 'export');
  assert.deepEqual(entries.map((e) => e.outcome).at(-1), '8', 'the last entry says the file was not written');
  assert.ok(entries.slice(0, -1).every((e) => e.outcome === '0'), 'the attempt with its read, committed before the write');
  assert.deepEqual(entries.at(-1)!.entities, exportFacts({ format: 'fhir-json', reason: 'referral' }), 'the failure names nothing read');
  assert.equal(existsSync(join(out, 'no-such-folder')), false);
  assert.deepEqual(readdirSync(out), ['summary.json']);
});

test('a crash (SIGKILL) right after the file is renamed into place never leaves the file without its audit entry', async () => {
  const crashOut = join(scratch.path, 'crash-folder');
  mkdirSync(crashOut);
  const seq = await lastSeq();
  await session.close();
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support', 'export-crash-child.ts')], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, SVC: keychain.service, DATA: join(scratch.path, 'cache'), OUT: crashOut, PID: patient.id },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
  } finally {
    session = await openCacheSession({ dataDir: join(scratch.path, 'cache'), secrets: keychain, actor: 'dr.export', actorName: 'Dr Ada Export', create: false });
  }
  assert.ok(existsSync(join(crashOut, 'crash.json')), 'the file was in place when the process died');
  const entries = (await entriesSince(seq)).filter((e) => e.subtype === 'export');
  assert.ok(entries.length > 0 && entries.every((e) => e.outcome === '0' && e.query === 'crash test'), 'its export entry was committed');
});

test('a dialog answer without extension whose .json twin exists is refused, never overwritten (the dialog confirmed only the name it showed)', async () => {
  writeFileSync(join(out, 'kept.json'), 'my own file');
  const seq = await lastSeq();
  rig.destination.answer = 'kept';
  const r = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.equal(!r.ok && r.error.code, 'INVALID_INPUT');
  assert.equal(readFileSync(join(out, 'kept.json'), 'utf8'), 'my own file');
  assert.deepEqual((await entriesSince(seq)).filter((e) => e.outcome === '0'), [], 'nothing read');
  rmSync(join(out, 'kept.json'));
});

test('a file name at the file system\'s limit is saved; one past it is a typed error in words, not INTERNAL', async () => {
  rig.destination.answer = `${'n'.repeat(250)}.json`;
  const ok = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.equal(ok.ok, true, JSON.stringify(ok));
  rmSync(join(out, `${'n'.repeat(250)}.json`));
  rig.destination.answer = `${'n'.repeat(260)}.json`;
  const tooLong = await rig.call('export.fhir', { patientId: patient.id, reason });
  assert.equal(!tooLong.ok && tooLong.error.code, 'INVALID_INPUT');
  assert.match(!tooLong.ok ? tooLong.error.message : '', /too long/);
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.partial')), []);
});

test('policy without fhir-json: EXPORT_DISABLED before any dialog or read; the refused attempt is audited (outcome 4, nothing read)', async () => {
  rig.policy.formats = ['pdf', 'printer'];
  try {
    const options = await rig.call('export.options', {});
    assert.deepEqual(options.ok && (options.value as { formats: string[] }).formats, ['pdf', 'printer']);
    const seq = await lastSeq();
    const asked = rig.destination.asked.length;
    rig.destination.answer = 'refused.json';
    const r = await rig.call('export.fhir', { patientId: patient.id, reason });
    assert.equal(!r.ok && r.error.code, 'EXPORT_DISABLED');
    assert.equal(rig.destination.asked.length, asked, 'no save dialog');
    assert.equal(existsSync(join(out, 'refused.json')), false);
    const entries = await entriesSince(seq);
    assert.equal(entries.length, 1, 'one refusal entry, no read entry');
    assert.equal(entries[0]!.subtype, 'export');
    assert.equal(entries[0]!.outcome, '4');
    assert.deepEqual(entries[0]!.entities, [...exportFacts({ format: 'fhir-json', reason: 'referral' }), `Patient/${patient.id}`]);
  } finally {
    rig.policy.formats = ['fhir-json', 'pdf', 'printer'];
  }
});

test('export.options lists what policy allows and the reasons; none at all is an empty list', async () => {
  const all = await rig.call('export.options', {});
  assert.ok(all.ok);
  const value = all.value as { formats: string[]; reasons: Array<{ code: string; label: string }> };
  assert.deepEqual(value.formats, ['fhir-json', 'pdf', 'printer']);
  assert.deepEqual(value.reasons.map((r) => r.code), ['continuity-of-care', 'patient-request', 'referral', 'legal-request', 'other']);
  assert.ok(value.reasons.every((r) => r.label.length > 0));
  rig.policy.formats = [];
  try {
    const none = await rig.call('export.options', {});
    assert.deepEqual(none.ok && (none.value as { formats: string[] }).formats, []);
  } finally {
    rig.policy.formats = ['fhir-json', 'pdf', 'printer'];
  }
});

test('a patient not in the cache: NOT_FOUND, no dialog, the attempt audited', async () => {
  const seq = await lastSeq();
  const r = await rig.call('export.fhir', { patientId: 'not-in-this-cache', reason });
  assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
  const entries = await entriesSince(seq);
  assert.deepEqual(entries.map((e) => [e.subtype, e.outcome, e.patientId]), [['export', '4', 'not-in-this-cache']]);
});

test('no surface wired: EXPORT_DISABLED; locked cache: nothing', async () => {
  const { createHandlerRegistry, dispatch } = await import('../electron/services/handler-registry');
  const bare = createHandlerRegistry({ session: () => session, problem: () => null, actor: () => 'dr.export' });
  const r = await dispatch(bare, 'export.fhir', { patientId: patient.id, reason }, WINDOW_1, { trustedOrigins: ['app://clinician'] });
  assert.equal(!r.ok && r.error.code, 'EXPORT_DISABLED');
  const locked = exportRig(() => null, out);
  const l = await locked.call('export.options', {});
  assert.equal(!l.ok && l.error.code, 'CACHE_NOT_OPEN');
});
