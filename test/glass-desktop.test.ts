/**
 * Break the glass on the desktop, end to end: the app's AuthService signed
 * in with a passkey (Chromium's virtual authenticator, gnome-keyring), the
 * real backend process (SQLite) reached through a TCP proxy the test
 * controls, and the glass surface served through the same handler registry
 * and dispatch the app binds to IPC. Time on the desktop's side is an
 * injected clock (the test moves it past a grant's end; nothing sleeps).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { EMERGENCY_PURPOSE } from '../shared/audit-entry';
import { glassFacts, RESTRICTED_LABEL } from '../shared/glass-api';
import type { Result } from '../shared/app-error';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { createGlassSurface, guardedByGlass, GLASS_OFFLINE_MESSAGE, type GlassService } from '../electron/services/glass/glass-surface';
import { createExportSurface } from '../electron/services/export/export-surface';
import { settle } from '../electron/services/outbox';
import { FolderDestination, RecordingPrinter } from './support/export-harness';
import type { CacheSession } from '../electron/services/cache-session';
import { openDatabase } from '../server/database';
import { pullChanges } from '../electron/services/sync-pull';
import { decodePrf } from '../electron/services/session/passkey-record';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const dir = scratchDir('glass-desktop');
const keychain = testKeychain();
const OWN = 'gd-own-0001';
const RESTRICTED = ['gd-rest-0002', 'gd-rest-0003', 'gd-rest-0004', 'gd-rest-0005', 'gd-rest-0006', 'gd-rest-0007', 'gd-rest-0008', 'gd-rest-0009', 'gd-rest-0010', 'gd-rest-0011', 'gd-rest-0012'];
const HOUR = 3600_000;
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let proxy: TcpProxy;
let d: PasskeyDesktop;
let glass: GlassService;
let registry: HandlerRegistry;
/** The desktop's clock runs this far ahead of real time (the backend keeps real time). */
let ahead = 0;
/** The desktop's monotonic clock runs this far ahead of performance.now() (the wall clock may say otherwise). */
let monoAhead = 0;
let destination: FolderDestination;
/** The passkey's PRF output the cache keys are bound to (the same at each sign-in with this passkey). */
let prf: Buffer | undefined;
/** Runs while the save dialog is "open" (a test moves the clock there). */
let whileDialogOpen: (() => void) | null = null;
const revocations: string[] = [];

const caller = { url: 'http://localhost/index.html', isMainFrame: true };
async function call(name: string, payload: unknown): Promise<Result<unknown>> {
  return dispatch(registry, name, payload, caller, { trustedOrigins: ['http://localhost'] });
}
async function value<T>(name: string, payload: unknown): Promise<T> {
  const r = await call(name, payload);
  if (!r.ok) assert.fail(`${name} failed: ${r.error.code} ${r.error.message}`);
  return r.value as T;
}
function session(): CacheSession {
  const s = d.auth.session();
  assert.ok(s, 'the cache is open');
  return s;
}
/** The test's own connection to the open session's cache file (./support/cache-inspect.ts), to look at rows. */
function cacheDb() {
  return inspectCache(session(), keychain, prf);
}
async function count(sql: string, ...args: unknown[]): Promise<number> {
  return (await cacheDb()).prepare(sql).pluck().get(...args) as number;
}
interface Row {
  action: string;
  subtype: string;
  purpose: string;
  query: string | null;
  outcome: string;
  entry: string;
}
async function entriesFor(patientId: string, afterSeq = 0): Promise<Row[]> {
  return (await cacheDb()).prepare('SELECT action, subtype, purpose, query, outcome, entry FROM audit_log WHERE patient_id = ? AND seq > ? ORDER BY seq').all(patientId, afterSeq) as Row[];
}
async function lastSeq(): Promise<number> {
  return count('SELECT coalesce(max(seq), 0) FROM audit_log');
}
const family = (id: string) => `Testfamily${id.slice(-4)}`;

/** Searches the backend for the restricted patient and breaks the glass on its one match. */
async function breakGlassOn(patientId: string, reason = { code: 'emergency-treatment', text: 'Collapsed in the corridor' }) {
  // After a test that took the network away, the sync worker's attempts from the offline time may still be failing
  // (each says offline): search and break again until the app is online.
  const attempt = async (): Promise<Result<unknown>> => {
    const searched = await call('glass.search', { query: family(patientId) });
    if (!searched.ok) return searched;
    const { matches } = searched.value as { matches: Array<{ handle: string; label: string }> };
    assert.equal(matches.length, 1);
    return call('glass.break', { handle: matches[0]!.handle, reason });
  };
  let r = await attempt();
  for (const deadline = Date.now() + 20_000; !r.ok && r.error.code === 'GLASS_OFFLINE' && Date.now() < deadline; ) {
    d.auth.networkChanged(true);
    await until(() => d.auth.syncState().online, 'online');
    r = await attempt();
  }
  if (!r.ok) assert.fail(`breaking the glass failed: ${r.error.code} ${r.error.message}`);
  return r.value as { patientId: string; expiresAt: string };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  const bundles = join(dir.path, 'bundles');
  mkdirSync(bundles);
  for (const id of [OWN, ...RESTRICTED]) writeFileSync(join(bundles, `${id}.json`), JSON.stringify(syntheticPatientBundle({ patientId: id, observations: 3 })));
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], bundles: [bundles] });
  backend.admin(['add-clinician', 'dr.glass', '--name', 'Dr Gwen Glass']);
  backend.admin(['assign', 'dr.glass', OWN]);
  backend.admin(['set-policy', 'undoSeconds', '0']);
  proxy = await startTcpProxy(backend.port);
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: proxy.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
  const created = await d.createPasskey('dr.glass', backend.admin(['enroll-code', 'dr.glass']));
  await d.auth.enrollFinish(created.response, created.prfOutput);
  prf = decodePrf(created.prfOutput);
  // As electron/main.ts wires it: the passkey session's token, the sync worker's view of the network.
  glass = createGlassSurface({
    session: () => d.auth.session(),
    passkeyToken: () => (d.auth.desktop.hasPasskeySession() ? d.auth.desktop.currentToken() : null),
    online: () => d.auth.syncState().online,
    backend: d.backend,
    revoked: (message) => revocations.push(message),
    clock: () => new Date(Date.now() + ahead),
    monotonic: () => performance.now() + monoAhead,
    checkEveryMs: 0,
  });
  mkdirSync(join(dir.path, 'saved'));
  destination = new (class extends FolderDestination {
    override async choose(...args: Parameters<FolderDestination['choose']>) {
      whileDialogOpen?.();
      return super.choose(...args);
    }
  })(join(dir.path, 'saved'));
  const exports = createExportSurface({
    session: () => d.auth.session(),
    policy: () => ({ formats: ['fhir-json', 'pdf', 'printer'], screenCaptureProtection: true }),
    destination,
    printer: new RecordingPrinter(),
    clock: () => new Date(Date.now() + ahead),
    // As main wires it: the grant check again when the save dialog returns.
    recheck: (s) => glass.check(s),
  });
  registry = createHandlerRegistry(guardedByGlass(d.auth, glass), d.auth, { glass, exports });
});

after(async () => {
  glass?.stop();
  await d?.close();
  await browser?.close();
  await renderer?.close();
  await proxy?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

test('a restricted match says only that the patient exists; breaking the glass brings the record in, audited ETREAT, and the chart opens under it', async (t) => {
  const patientId = RESTRICTED[0]!;
  const t0 = performance.now();
  const mark = (what: string) => t.diagnostic(`${what}: ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0, 'not in the cache before');
  const { matches } = await value<{ matches: Array<{ handle: string; label: string }> }>('glass.search', { query: family(patientId) });
  assert.deepEqual(matches.map((m) => m.label), [RESTRICTED_LABEL]);
  assert.ok(!JSON.stringify(matches).includes(patientId), 'the match names no patient');
  // The clinician's own patient is no restricted match.
  assert.deepEqual((await value<{ matches: unknown[] }>('glass.search', { query: family(OWN) })).matches, []);

  const before = await lastSeq();
  const grant = await value<{ patientId: string; expiresAt: string }>('glass.break', {
    handle: matches[0]!.handle,
    reason: { code: 'emergency-treatment', text: 'Collapsed in the corridor' },
  });
  assert.equal(grant.patientId, patientId);
  mark('searched and broke the glass');
  const hours = (Date.parse(grant.expiresAt) - Date.now()) / HOUR;
  assert.ok(hours > 3.9 && hours <= 4, `the backend's default grant of 4 hours (${hours})`);

  // The record is in the cache, written as pulled records are (with the backend's versions) and findable.
  assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ? AND version_id IS NOT NULL', patientId), 4, 'the Patient and its 3 observations');
  assert.equal(await count("SELECT count(*) FROM resources WHERE resource_type = 'Patient' AND id = ?", patientId), 1);
  const found = await value<{ patients: Array<{ id: string }> }>('patients.search', { query: family(patientId) });
  assert.deepEqual(found.patients.map((p) => p.id), [patientId]);
  assert.deepEqual((await value<{ grants: unknown[] }>('glass.active', {})).grants, [{ patientId, expiresAt: grant.expiresAt }]);

  // The grant is a 'break-glass' entry (action E, reason code and end as URNs, the free text as its query), and every
  // entry naming the patient from then on carries the emergency purpose.
  const entries = await entriesFor(patientId, before);
  const grantEntry = entries.find((e) => e.subtype === 'break-glass');
  assert.ok(grantEntry, 'a break-glass entry');
  assert.equal(grantEntry.action, 'E');
  assert.equal(grantEntry.query, 'Collapsed in the corridor');
  assert.equal(grantEntry.outcome, '0');
  // The entry holds the backend's own expiry; the answer gives the end on this computer's clock (the same here, to the Date header's second).
  const [reasonFact, untilFact] = glassFacts({ reason: 'emergency-treatment', expiresAt: grant.expiresAt });
  assert.ok(grantEntry.entry.includes(reasonFact!), reasonFact);
  const untilAt = new RegExp(`${untilFact!.slice(0, untilFact!.lastIndexOf(':until:') + 7)}([0-9TZ:.-]+)`).exec(grantEntry.entry)?.[1];
  assert.ok(untilAt && Math.abs(Date.parse(untilAt) - Date.parse(grant.expiresAt)) <= 2000, `${untilAt} ~ ${grant.expiresAt}`);
  assert.ok(entries.some((e) => e.action === 'C'), 'the records written are audited');
  assert.ok(entries.every((e) => e.purpose === EMERGENCY_PURPOSE), JSON.stringify(entries.map((e) => [e.subtype, e.purpose])));

  mark('checked the grant entries');
  const chartSeq = await lastSeq();
  await value('chart.open', { patientId });
  await value('notes.saveDraft', { patientId, subjective: 'Seen in an emergency', objective: '', assessment: '', plan: '' });
  const later = await entriesFor(patientId, chartSeq);
  assert.ok(later.some((e) => e.action === 'R') && later.some((e) => e.action === 'C'), 'the chart read and the note are audited');
  assert.ok(later.every((e) => e.purpose === EMERGENCY_PURPOSE));
  mark('read and wrote under the grant');
  // The clinician's own patient keeps the session's purpose.
  const ownSeq = await lastSeq();
  await value('chart.open', { patientId: OWN });
  assert.deepEqual([...new Set((await entriesFor(OWN, ownSeq)).map((e) => e.purpose))], ['TREAT']);
  mark('own patient');
  // The note went to the backend under the grant (the outbox drains).
  await until(async () => (await count('SELECT count(*) FROM outbox')) === 0, 'the note is sent');
  mark('the note was sent');
  // A pull (whose assigned list never names a granted patient) leaves the granted record in place.
  await pullChanges(session(), d.backend, d.auth.desktop.currentToken()!);
  assert.equal((await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId)) >= 4, true, 'still held after a pull');
});

test('at the grant\'s end the record leaves the cache, and the chart is not found like any unknown patient; an export whose dialog was open then saves nothing', async () => {
  const patientId = RESTRICTED[1]!;
  const grant = await breakGlassOn(patientId);
  await value('chart.open', { patientId });
  const before = await lastSeq();
  // The grant ends while the save dialog is open: the export re-checks when the dialog returns.
  destination.answer = 'during-dialog.json';
  whileDialogOpen = () => (ahead = Date.parse(grant.expiresAt) - Date.now() + 1000);
  try {
    const exported = await call('export.fhir', { patientId, reason: { code: 'referral', text: '' } });
    whileDialogOpen = null;
    assert.equal(!exported.ok && exported.error.code, 'NOT_FOUND');
    assert.equal(existsSync(join(dir.path, 'saved', 'during-dialog.json')), false);
    assert.deepEqual((await entriesFor(patientId, before)).filter((e) => e.subtype === 'export').map((e) => e.outcome), ['4']);
    const r = await call('chart.open', { patientId });
    assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ? OR (resource_type = ? AND id = ?)', patientId, 'Patient', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM patients WHERE id = ?', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM patient_search_terms WHERE patient_id = ?', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM glass_grants WHERE patient_id = ?', patientId), 0);
    assert.deepEqual((await value<{ patients: unknown[] }>('patients.search', { query: family(patientId) })).patients, []);
    const removal = (await entriesFor(patientId)).find((e) => e.action === 'D');
    assert.ok(removal, 'the removal is audited');
    assert.equal(removal.purpose, 'TREAT', 'after its end, entries no longer carry the emergency purpose');
    assert.equal((await value<{ grants: unknown[] }>('glass.active', {})).grants.some((g) => (g as { patientId: string }).patientId === patientId), false);
  } finally {
    whileDialogOpen = null;
    ahead = 0;
  }
});

/** What a clinician could still reach of a patient: chart, search, worklist, export and print (each NOT_FOUND or absent once hidden). */
async function reachable(patientId: string): Promise<string[]> {
  const reached: string[] = [];
  if ((await call('chart.open', { patientId })).ok) reached.push('chart.open');
  if ((await value<{ patients: Array<{ id: string }> }>('patients.search', { query: family(patientId) })).patients.some((p) => p.id === patientId)) reached.push('patients.search');
  if ((await value<{ patients: Array<{ id: string }> }>('patients.worklist', {})).patients.some((p) => p.id === patientId)) reached.push('patients.worklist');
  const reason = { code: 'referral', text: '' };
  destination.answer = `export-${patientId}-${await lastSeq()}.json`;
  if ((await call('export.fhir', { patientId, reason })).ok) reached.push('export.fhir');
  if ((await call('print.prepare', { patientId, reason, output: 'pdf' })).ok) reached.push('print.prepare');
  if ((await call('drafts.put', { patientId, kind: 'vitals', target: '', body: { heartRate: '70' } })).ok) reached.push('drafts.put');
  return reached;
}

test('work still waiting past the grant\'s end keeps only itself: chart, search, worklist, export and print find the patient no more; once it is sent the grant goes', async () => {
  const patientId = RESTRICTED[2]!;
  const grant = await breakGlassOn(patientId);
  // The network goes: the note waits in the outbox.
  proxy.down = true;
  proxy.cutAll();
  const { noteId } = await value<{ noteId: string }>('notes.saveDraft', { patientId, subjective: 'Waiting to be sent', objective: '', assessment: '', plan: '' });
  assert.equal(await count('SELECT count(*) FROM outbox'), 1);
  assert.deepEqual(await reachable(patientId), ['chart.open', 'patients.search', 'patients.worklist', 'export.fhir', 'print.prepare', 'drafts.put'], 'reachable under the grant');
  await value('drafts.discard', { patientId, kind: 'vitals', target: '' });
  ahead = Date.parse(grant.expiresAt) - Date.now() + 1000;
  try {
    const before = await lastSeq();
    assert.deepEqual(await reachable(patientId), [], 'hidden like an unknown patient once the grant is over');
    assert.ok((await entriesFor(patientId, before)).every((e) => e.purpose === 'TREAT'), 'the grant is over: no emergency purpose');
    assert.ok((await entriesFor(patientId, before)).filter((e) => e.subtype === 'export' || e.subtype === 'print').every((e) => e.outcome === '4'), 'export and print refused');
    // Only the waiting change and the note it sends stay; the chart, the patient row and the search index are gone.
    assert.deepEqual(
      (await cacheDb()).prepare('SELECT resource_type || \'/\' || id FROM resources WHERE patient_id = ? OR (resource_type = ? AND id = ?)').pluck().all(patientId, 'Patient', patientId),
      [`Composition/${noteId}`],
    );
    assert.equal(await count('SELECT count(*) FROM patients WHERE id = ?', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM patient_search_terms WHERE patient_id = ?', patientId), 0);
    // The waiting work is still there to settle.
    const waiting = await value<{ changes: Array<{ patientId: string | null }> }>('sync.waiting', {});
    assert.ok(waiting.changes.some((c) => c.patientId === patientId), 'the waiting change is listed');
    assert.deepEqual((await value<{ grants: unknown[] }>('glass.active', {})).grants, []);
    // The network is back; the backend (whose grant is still running on its own clock) takes the note.
    proxy.down = false;
    d.auth.networkChanged(true);
    await until(async () => (await count('SELECT count(*) FROM outbox')) === 0, 'the note is sent');
    const r = await call('chart.open', { patientId });
    assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM glass_grants'), 0);
  } finally {
    ahead = 0;
    proxy.down = false;
    d.auth.networkChanged(true);
  }
});

test('a change the backend refused for good keeps only its outbox row and its own resource past the grant\'s end, never the record; discarding it lets the grant go', async () => {
  const patientId = RESTRICTED[9]!;
  const grant = await breakGlassOn(patientId);
  proxy.down = true;
  proxy.cutAll();
  const { noteId } = await value<{ noteId: string }>('notes.saveDraft', { patientId, subjective: 'Refused later', objective: '', assessment: '', plan: '' });
  const keys = (await cacheDb()).prepare('SELECT idempotency_key FROM outbox WHERE resource_id = ?').pluck().all(noteId) as string[];
  assert.equal(keys.length, 1);
  ahead = Date.parse(grant.expiresAt) - Date.now() + 30 * 24 * HOUR;
  try {
    // The sync worker's settle with the backend's refusal (the grant is over there too): the row stays, not sent again.
    await settle(session(), keys.map((idempotencyKey) => ({ idempotencyKey, status: 'refused', reason: 'forbidden' }) as never));
    assert.equal(await count('SELECT count(*) FROM outbox WHERE last_error IS NOT NULL'), 1);
    assert.deepEqual(await reachable(patientId), [], 'a month later the patient is not reachable');
    assert.deepEqual(
      (await cacheDb()).prepare('SELECT resource_type || \'/\' || id FROM resources WHERE patient_id = ? OR (resource_type = ? AND id = ?)').pluck().all(patientId, 'Patient', patientId),
      [`Composition/${noteId}`],
    );
    await value('changes.undo', { resourceType: 'Composition', resourceId: noteId });
    await call('glass.active', {});
    assert.equal(await count('SELECT count(*) FROM outbox'), 0);
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM glass_grants WHERE patient_id = ?', patientId), 0);
  } finally {
    ahead = 0;
    proxy.down = false;
    d.auth.networkChanged(true);
  }
});

test('a draft with typed words past the grant\'s end keeps only the draft: the patient is not found, not searchable; discarding it lets the grant go', async () => {
  const patientId = RESTRICTED[5]!;
  const grant = await breakGlassOn(patientId);
  await value('drafts.put', { patientId, kind: 'vitals', target: '', body: { heartRate: '88' } });
  ahead = Date.parse(grant.expiresAt) - Date.now() + 1000;
  try {
    assert.deepEqual(await reachable(patientId), []);
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ? OR (resource_type = ? AND id = ?)', patientId, 'Patient', patientId), 0);
    assert.equal(await count('SELECT count(*) FROM drafts WHERE patient_id = ?', patientId), 1, 'the typed draft stays');
    // The draft is discarded: the grant's row leaves at the next access.
    assert.deepEqual(await value('drafts.discard', { patientId, kind: 'vitals', target: '' }), { discarded: true });
    await call('glass.active', {});
    assert.equal(await count('SELECT count(*) FROM glass_grants WHERE patient_id = ?', patientId), 0);
  } finally {
    ahead = 0;
  }
});

test('a lock during a grant keeps it in the encrypted cache; at unlock its end is checked again', async () => {
  const patientId = RESTRICTED[3]!;
  const grant = await breakGlassOn(patientId);
  d.auth.lockNow('manual');
  let used = await d.usePasskey();
  await d.auth.signInFinish(used.response, used.prfOutput);
  assert.deepEqual((await value<{ grants: Array<{ patientId: string }> }>('glass.active', {})).grants.map((g) => g.patientId), [patientId]);
  d.auth.lockNow('manual');
  ahead = Date.parse(grant.expiresAt) - Date.now() + 1000;
  try {
    used = await d.usePasskey();
    await d.auth.signInFinish(used.response, used.prfOutput);
    const r = await call('chart.open', { patientId });
    assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
  } finally {
    ahead = 0;
  }
});

test('setting the computer\'s clock back before the grant ends it (a grant cannot be stretched so)', async () => {
  const patientId = RESTRICTED[6]!;
  await breakGlassOn(patientId);
  ahead = -2 * HOUR;
  try {
    const r = await call('chart.open', { patientId });
    assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
  } finally {
    ahead = 0;
  }
});

test('a clock set back BEFORE breaking the glass does not stretch the grant offline: its length comes from the backend\'s time, and the monotonic clock ends it whatever the wall clock says', async () => {
  const patientId = RESTRICTED[7]!;
  ahead = -365 * 24 * HOUR;
  try {
    const grant = await breakGlassOn(patientId);
    const hours = (Date.parse(grant.expiresAt) - (Date.now() + ahead)) / HOUR;
    assert.ok(hours > 3.9 && hours <= 4, `the end is 4 hours ahead on this computer's (set back) clock (${hours})`);
    const active = (await value<{ grants: Array<{ patientId: string; expiresAt: string }> }>('glass.active', {})).grants.find((g) => g.patientId === patientId);
    assert.equal(active?.expiresAt, grant.expiresAt);
    proxy.down = true;
    proxy.cutAll();
    // Three hours on: still granted (by both clocks).
    ahead += 3 * HOUR;
    monoAhead = 3 * HOUR;
    await value('chart.open', { patientId });
    // The wall clock is set back again by an hour, but the monotonic clock says the 4 hours are over.
    ahead -= HOUR;
    monoAhead = 4 * HOUR + 2000;
    const r = await call('chart.open', { patientId });
    assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
    assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
  } finally {
    ahead = 0;
    monoAhead = 0;
    proxy.down = false;
    d.auth.networkChanged(true);
  }
});

test('a grant the backend ended (revoked or expired there) removes the record', async () => {
  const patientId = RESTRICTED[4]!;
  await breakGlassOn(patientId);
  assert.ok((await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId)) > 0);
  // The backend's grant ends early (as a privacy officer's revocation would): its row says so.
  const { db } = openDatabase({ dataDir: backend.dataDir });
  try {
    await db.updateTable('glass_grants').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('patient_id', '=', patientId).execute();
  } finally {
    await db.destroy();
  }
  await glass.refresh();
  assert.equal(await count('SELECT count(*) FROM resources WHERE patient_id = ?', patientId), 0);
  const r = await call('chart.open', { patientId });
  assert.equal(!r.ok && r.error.code, 'NOT_FOUND');
});

test('offline there is no break-the-glass, said in words; without a backend likewise', async () => {
  // The network is gone but the app has not noticed yet: the backend cannot be reached.
  proxy.down = true;
  proxy.cutAll();
  try {
    const r = await call('glass.search', { query: family(RESTRICTED[0]!) });
    assert.deepEqual(!r.ok && r.error, { code: 'GLASS_OFFLINE', message: GLASS_OFFLINE_MESSAGE });
    // The OS says the network is gone: not even asked.
    d.auth.networkChanged(false);
    const again = await call('glass.search', { query: family(RESTRICTED[0]!) });
    assert.deepEqual(!again.ok && again.error, { code: 'GLASS_OFFLINE', message: GLASS_OFFLINE_MESSAGE });
    const broke = await call('glass.break', { handle: 'x'.repeat(43), reason: { code: 'emergency-treatment', text: '' } });
    assert.equal(!broke.ok && broke.error.code, 'GLASS_OFFLINE');
  } finally {
    proxy.down = false;
  }
  const none = createGlassSurface({ session: () => d.auth.session(), passkeyToken: () => 'token', online: () => true, backend: null, checkEveryMs: 0 });
  const bare = createHandlerRegistry(d.auth, d.auth, { glass: none });
  const r = await dispatch(bare, 'glass.search', { query: 'Testfamily' }, caller, { trustedOrigins: ['http://localhost'] });
  assert.deepEqual(!r.ok && r.error, { code: 'GLASS_OFFLINE', message: GLASS_OFFLINE_MESSAGE });
  d.auth.networkChanged(true);
  await until(() => d.auth.syncState().online, 'online again');
});

test('a revoked clinician is refused in neutral words; nothing comes into the cache', async () => {
  const patientId = RESTRICTED[0]!;
  // A match found before the revocation; the sync worker stopped so the revocation's wipe does not race the test.
  const { matches } = await value<{ matches: Array<{ handle: string }> }>('glass.search', { query: family(RESTRICTED[4]!) });
  assert.equal(matches.length, 1);
  await d.auth.stopSync();
  backend.admin(['revoke-clinician', 'dr.glass']);
  const before = await count('SELECT count(*) FROM resources');
  const searched = await call('glass.search', { query: family(patientId) });
  assert.equal(!searched.ok && searched.error.code, 'GLASS_REFUSED');
  const broke = await call('glass.break', { handle: matches[0]!.handle, reason: { code: 'covering-colleague', text: '' } });
  assert.equal(!broke.ok && broke.error.code, 'GLASS_REFUSED');
  assert.ok(!broke.ok && !/revoked|RESTRICTED|gd-rest/i.test(broke.error.message), broke.ok ? '' : broke.error.message);
  assert.equal(await count('SELECT count(*) FROM resources'), before);
  assert.ok(revocations.length > 0, 'the app is told, to wipe as it does for any revocation');
});
