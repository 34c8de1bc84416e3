/**
 * The privacy console as the backend serves it (GET /console/, the built
 * renderer/privacy-console.html), in Chromium against the real backend
 * process (SQLite), with a virtual platform authenticator (CDP) standing in
 * for the officer's passkey. Seeded through the real routes: a clinician
 * (dr.kim) enrolls a desktop passkey, reads an assigned chart (a backend
 * disclosure), uploads a desktop chain with an offline read and an export
 * whose reason is a spreadsheet formula, and breaks the glass for a patient
 * not assigned to them (GS's grant: ETREAT disclosure and a break-glass
 * flag); one more flag is raised with M1's raiseFlag. Then: the officer
 * enrolls a console passkey with a code from IT, sees the open flags with
 * their evidence and acknowledges one with a note; signs out and back in
 * with the passkey; reads a patient's accounting of disclosures (ETREAT,
 * break-the-glass reason, offline, device) and downloads it as FHIR and
 * CSV (both parsed); reads dr.kim's access history; every view and export
 * is in the backend's disclosure chain. A clinician without the role is
 * refused, on the page and at every API route, exactly as a missing page;
 * requests without the console's header or from another origin are
 * refused; the desktop's sign-in refuses a ceremony made on the console.
 * axe-core checks every screen.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openDatabase, type Db } from '../../server/database';
import { raiseFlag, raiseFlags } from '../../server/privacy/flags';
import { FLAG_PAGE_MAX } from '../../shared/privacy-api';
import { consoleDeviceId } from '../../server/console/console-device';
import { parseCanonicalAuditEntry } from '../../shared/audit-entry';
import { AUDIT_UPLOAD_PATH } from '../../shared/audit-upload';
import { GLASS_GRANTS_PATH, GLASS_SEARCH_PATH } from '../../shared/glass-api';
import { CONSOLE_REQUEST_HEADER } from '../../shared/privacy-console-api';
import { startBackend, type BackendProcess } from '../support/backend-process';
import { Authenticator, call, errorCode, newDevice, post, type Json } from '../support/passkey-ceremony';
import { HandBuiltDevice } from '../support/signed-audit-chain';
import { scratchDir } from '../support/scratch';
import { addVirtualAuthenticator } from '../support/virtual-authenticator';
import { expectAccessible } from './axe';
import { RENDERER_DIR, addWebAuthnHelper, launchChromium, screenshot, serveRenderer, type RendererServer } from './harness';

const dir = scratchDir('privacy-console');
const OFFICER = 'pat.officer';
const FORMULA = '=HYPERLINK("http://attacker.invalid","open")';
const GLASS_TEXT = 'Unconscious in the emergency department';
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let db: Db;
let consoleOrigin: string;
let assigned: string;
let restricted: string;
let kim: Authenticator;
let kimToken: string;
let officerContext: BrowserContext;
let officer: Page;

const missingPage = async () => call(backend.url, 'GET', '/console/api/no-such-route');

/** A CSV file's rows (RFC 4180 quoted cells, CRLF lines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

async function consoleDisclosures(): Promise<Array<{ patientId: string | null; subtype: string; query: string | null; entities: string[] }>> {
  const rows = await db.selectFrom('disclosure_events').select(['entry']).orderBy('seq').execute();
  return rows.map((r) => parseCanonicalAuditEntry(r.entry)!).filter((e) => e.actor === OFFICER);
}

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  consoleOrigin = `http://localhost:${backend.port}`;
  backend.admin(['add-clinician', 'dr.kim', '--name', 'Dr Kim Lee']);
  backend.admin(['add-clinician', OFFICER, '--name', 'Pat Officer']);
  backend.admin(['grant-role', OFFICER, 'privacy-officer']);
  ({ db } = openDatabase({ databaseUrl: undefined, dataDir: backend.dataDir }));
  const patients = (await db.selectFrom('resources').select(['id', 'json']).where('resource_type', '=', 'Patient').orderBy('id').execute()).map((p) => ({
    id: p.id,
    fullFamily: (JSON.parse(p.json) as { name?: Array<{ family?: string }> }).name?.[0]?.family ?? '',
  })).map((p) => ({ ...p, family: p.fullFamily.replace(/[0-9]/g, '') }));
  assigned = patients[0]!.id;
  const other = patients.find((p) => p.id !== assigned && p.family.length >= 3 && !patients.some((q) => q.id !== p.id && q.family === p.family))!;
  restricted = other.id;
  backend.admin(['assign', 'dr.kim', assigned]);

  // dr.kim's desktop passkey, made at the desktop's origin.
  kim = await Authenticator.open(browser, renderer.origin);
  const code = backend.admin(['enroll-code', 'dr.kim']);
  const options = await post(backend.url, '/v1/enroll/options', { clinicianId: 'dr.kim', code });
  assert.equal(options.status, 200, options.text);
  const device = newDevice();
  const enrolled = await post(backend.url, '/v1/enroll/verify', { clinicianId: 'dr.kim', code, response: await kim.create(options.json.options), device: { id: device.id, publicKey: device.publicKey } });
  assert.equal(enrolled.status, 200, enrolled.text);
  kimToken = enrolled.json.token as string;

  // A backend disclosure: dr.kim reads the assigned patient's record.
  assert.equal((await call(backend.url, 'GET', `/v1/fhir/Patient/${assigned}`, { token: kimToken })).status, 200);
  // A desktop's chain: an offline read, and an export whose free-text reason is a spreadsheet formula.
  const laptop = new HandBuiltDevice('dr.kim');
  const laptopToken = await laptop.register(db);
  const now = Date.now();
  const upload = laptop.upload([
    { recordedAt: new Date(now - 60_000).toISOString(), patientId: assigned, network: 'offline' },
    { recordedAt: new Date(now - 30_000).toISOString(), patientId: assigned, subtype: 'export', query: FORMULA },
  ]);
  const uploaded = await post(backend.url, AUDIT_UPLOAD_PATH, upload, laptopToken);
  assert.equal(uploaded.status, 200, uploaded.text);

  // Break the glass for a patient not assigned to dr.kim (GS's routes), then read the record under the grant.
  // The restricted search matches whole name words only (no prefix): the family name as recorded.
  const search = await post(backend.url, GLASS_SEARCH_PATH, { query: other.fullFamily }, kimToken);
  assert.equal(search.status, 200, search.text);
  const handle = (search.json.matches as Array<{ handle: string }>)[0]!.handle;
  const grant = await post(backend.url, GLASS_GRANTS_PATH, { handle, reason: { code: 'emergency-treatment', text: GLASS_TEXT } }, kimToken);
  assert.equal(grant.status, 200, grant.text);
  // Whichever restricted patient the search found is the one now reached.
  restricted = grant.json.patientId as string;
  assert.equal((await call(backend.url, 'GET', `/v1/fhir/Patient/${restricted}`, { token: kimToken })).status, 200);

  // One more flag, raised as the monitoring rules raise theirs.
  await raiseFlag(db, {
    rule: 'after-hours',
    clinicianId: 'dr.kim',
    patientId: assigned,
    explanation: 'The clinician opened this chart outside their hours.',
    evidence: { refs: [{ kind: 'backend', seq: 1 }], refsTotal: 1, numbers: { hour: 3, shiftEnds: 19 } },
    dedupeKey: 'console-test-after-hours',
    at: new Date(now - 90_000).toISOString(),
  });

  officerContext = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  officer = await officerContext.newPage();
  await addVirtualAuthenticator(officer, { prf: true });
  await addWebAuthnHelper(officer);
});

after(async () => {
  await officerContext?.close();
  await kim?.close();
  await browser?.close();
  await renderer?.close();
  await db?.destroy();
  await backend?.dispose();
  dir.remove();
});

test('the console page is served by the backend with the strict CSP, and only its own assets', async () => {
  const page = await fetch(`${consoleOrigin}/console/`);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  const html = await page.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
  const script = /src="\.\/assets\/([^"]+\.js)"/.exec(html)![1]!;
  const asset = await fetch(`${consoleOrigin}/console/assets/${script}`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  // The desktop app's own bundle is not served here.
  const desktopScript = /src="\.\/assets\/([^"]+\.js)"/.exec(readFileSync(join(RENDERER_DIR, 'index.html'), 'utf8'))![1]!;
  assert.equal((await fetch(`${consoleOrigin}/console/assets/${desktopScript}`)).status, 404);
  assert.equal((await fetch(`${consoleOrigin}/console`, { redirect: 'manual' })).headers.get('location'), '/console/');
});

test('a privacy officer enrolls a console passkey with a code from IT, sees the open flags with their evidence and acknowledges one with a note', async () => {
  await officer.goto(`${consoleOrigin}/console/`);
  await officer.getByTestId('console-sign-in').waitFor();
  await expectAccessible(officer, 'privacy-console-sign-in');
  await officer.getByTestId('console-toggle-enroll').click();
  await officer.locator('#console-user').fill(OFFICER);
  await officer.locator('#console-code').fill(backend.admin(['enroll-code', OFFICER]));
  await officer.getByRole('button', { name: 'Create passkey' }).click();
  await officer.getByTestId('flags-page').waitFor();
  assert.equal(await officer.getByTestId('console-officer').innerText(), 'Pat Officer');

  // The session is an HttpOnly SameSite=Strict cookie: nothing in the page's reach.
  const cookies = await officerContext.cookies(`${consoleOrigin}/console/`);
  const session = cookies.find((c) => c.name === 'clinician-console')!;
  assert.ok(session, 'a console session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/console');
  assert.equal(await officer.evaluate('document.cookie'), '');
  assert.equal(await officer.evaluate('JSON.stringify(localStorage) + JSON.stringify(sessionStorage)'), '{}{}');

  const glassFlag = officer.locator('[data-testid=flag][data-rule="break-glass"]');
  const hoursFlag = officer.locator('[data-testid=flag][data-rule="after-hours"]');
  await glassFlag.waitFor();
  assert.match(await glassFlag.innerText(), /dr\.kim/);
  assert.match(await glassFlag.innerText(), new RegExp(restricted.replace(/[.-]/g, '\\$&')));
  await hoursFlag.locator('summary').click();
  const evidence = await hoursFlag.getByTestId('flag-evidence').innerText();
  assert.match(evidence, /hour\s+3/);
  assert.match(evidence, /shiftEnds\s+19/);
  assert.match(await hoursFlag.innerText(), /Server disclosure 1/);
  await expectAccessible(officer, 'privacy-console-flags');
  await screenshot(officer, 'privacy-console-flags');

  await hoursFlag.getByTestId('flag-acknowledge').click();
  const dialog = officer.getByTestId('acknowledge-dialog');
  await dialog.locator('#ack-note').fill('Night shift cover confirmed with the ward manager.');
  await expectAccessible(officer, 'privacy-console-acknowledge');
  await dialog.getByRole('button', { name: 'Acknowledge' }).click();
  await hoursFlag.waitFor({ state: 'detached' });
  await glassFlag.waitFor();
  const stored = await db.selectFrom('privacy_flags').selectAll().where('dedupe_key', '=', 'console-test-after-hours').executeTakeFirstOrThrow();
  assert.equal(stored.status, 'acknowledged');
  assert.equal(stored.ack_by, OFFICER);
  assert.equal(stored.ack_note, 'Night shift cover confirmed with the ward manager.');

  // Each flag list and the acknowledgement are in the backend's disclosure chain, naming the patients shown.
  const audited = await consoleDisclosures();
  assert.ok(audited.some((e) => e.query === '/console/api/flags' && e.patientId === restricted));
  assert.ok(audited.some((e) => e.query?.endsWith('/acknowledge') && e.patientId === assigned));
});

test('the officer signs out and back in with the same passkey (no password); after sign-out the session is gone', async () => {
  const before = (await officerContext.cookies(`${consoleOrigin}/console/`)).find((c) => c.name === 'clinician-console')!.value;
  await officer.getByTestId('console-sign-out').click();
  await officer.getByTestId('console-sign-in').waitFor();
  const me = await fetch(`${consoleOrigin}/console/api/me`, { headers: { [CONSOLE_REQUEST_HEADER]: '1', cookie: `clinician-console=${before}` } });
  assert.equal(me.status, 404, 'the ended session opens nothing');
  assert.equal(await officer.locator('input[type=password]').count(), 0);
  await officer.locator('#console-user').fill(OFFICER);
  await officer.getByRole('button', { name: 'Sign in with passkey' }).click();
  await officer.getByTestId('flags-page').waitFor();
  assert.equal(await officer.getByTestId('console-officer').innerText(), 'Pat Officer');
});

test('the accounting of disclosures shows who saw the chart, when, from which device, online or offline, with the break-the-glass reason', async () => {
  await officer.getByTestId('nav-accounting').click();
  await officer.locator('#accounting-patient').fill(restricted);
  await officer.getByRole('button', { name: 'Show' }).click();
  const glassRow = officer.locator('[data-testid=disclosure-row][data-what="break-glass"]');
  await glassRow.first().waitFor();
  const text = await glassRow.first().innerText();
  assert.match(text, /dr\.kim/);
  assert.match(text, /ETREAT/);
  assert.match(text, /emergency-treatment/);
  assert.match(text, new RegExp(GLASS_TEXT));
  // The read under the grant is ETREAT too.
  assert.ok((await officer.locator('[data-testid=disclosure-row][data-what="read"][data-purpose="ETREAT"]').count()) >= 1);
  await expectAccessible(officer, 'privacy-console-accounting');
  await screenshot(officer, 'privacy-console-accounting');

  await officer.locator('#accounting-patient').fill(assigned);
  await officer.getByRole('button', { name: 'Show' }).click();
  const offline = officer.locator('[data-testid=disclosure-row]', { hasText: 'Offline' });
  await offline.first().waitFor();
  assert.match(await offline.first().innerText(), /Desktop/);
  assert.ok((await officer.locator('[data-testid=disclosure-row]', { hasText: 'Server' }).count()) >= 1, 'the backend disclosure is listed');

  const audited = await consoleDisclosures();
  assert.ok(audited.some((e) => e.patientId === restricted && e.subtype === 'search-type' && e.query === `/console/api/patients/${restricted}/accounting`));
});

test('the accounting exports as a FHIR Bundle of AuditEvents and as CSV with formula cells neutralised, each export audited', async () => {
  await officer.locator('#accounting-patient').fill(restricted);
  await officer.getByRole('button', { name: 'Show' }).click();
  await officer.locator('[data-testid=disclosure-row][data-what="break-glass"]').first().waitFor();
  const [fhirDownload] = await Promise.all([officer.waitForEvent('download'), officer.getByTestId('export-fhir').click()]);
  assert.equal(fhirDownload.suggestedFilename(), `accounting-${restricted}.fhir.json`);
  const bundle = JSON.parse(readFileSync((await fhirDownload.path())!, 'utf8')) as Json & { entry: Array<{ resource: Json }> };
  assert.equal(bundle.resourceType, 'Bundle');
  assert.equal(bundle.type, 'collection');
  assert.ok(bundle.entry.length >= 3);
  assert.equal(bundle.total, bundle.entry.length, 'total is the count it holds');
  assert.ok(bundle.entry.every((e) => e.resource.resourceType === 'AuditEvent'));
  const glass = bundle.entry.map((e) => e.resource).find((r) => (r.subtype as Array<{ code: string }>).some((s) => s.code === 'break-glass'))!;
  assert.ok(glass, 'the break-the-glass AuditEvent');
  assert.equal(((glass.purposeOfEvent as Array<{ coding: Array<{ code: string }> }>)[0]!.coding[0]!.code), 'ETREAT');
  const patientEntity = (glass.entity as Array<{ what?: { reference?: string } }>).find((e) => e.what?.reference === `Patient/${restricted}`);
  assert.ok(patientEntity);

  await officer.locator('#accounting-patient').fill(assigned);
  await officer.getByRole('button', { name: 'Show' }).click();
  await officer.locator('[data-testid=disclosure-row][data-what="export"]').first().waitFor();
  const [csvDownload] = await Promise.all([officer.waitForEvent('download'), officer.getByTestId('export-csv').click()]);
  const csvText = readFileSync((await csvDownload.path())!, 'utf8');
  const rows = parseCsv(csvText);
  assert.deepEqual(rows[0], ['recorded', 'who', 'patient', 'action', 'what', 'outcome', 'purpose', 'network', 'device', 'recorded_by', 'reason', 'resources', 'marks']);
  const last = rows.filter((r) => r.some((cell) => cell !== '')).at(-1)!;
  assert.deepEqual(last, [`# end of accounting: ${rows.filter((r) => r.length === rows[0]!.length).length - 1} entries`], 'the last line says the export is whole');
  const col = (name: string) => rows[0]!.indexOf(name);
  const exportRow = rows.find((r) => r[col('what')] === 'export' && r[col('who')] === 'dr.kim')!;
  assert.ok(exportRow, 'the desktop export is a CSV row');
  assert.equal(exportRow[col('reason')], `'${FORMULA}`, 'a formula-leading cell starts with an apostrophe');
  assert.ok(rows.slice(1).every((r) => r.every((cell) => !/^[=+\-@]/.test(cell))), 'no cell starts a formula');
  const offlineRow = rows.find((r) => r[col('network')] === 'offline')!;
  assert.equal(offlineRow[col('recorded_by')], 'device');
  assert.ok(rows.some((r) => r[col('recorded_by')] === 'backend' && r[col('who')] === 'dr.kim' && r[col('what')] === 'read'));

  const exports = (await consoleDisclosures()).filter((e) => e.subtype === 'export');
  assert.ok(exports.some((e) => e.patientId === restricted && e.entities.includes('urn:clinician-desktop:export:format:fhir-json')));
  assert.ok(exports.some((e) => e.patientId === assigned && e.entities.includes('urn:clinician-desktop:export:format:csv')));
});

test('a flood of failed reads cannot bury the accounting: older pages load down to the break of the glass, and each attempt shows its not-assigned mark (attack-a A7)', async () => {
  backend.admin(['add-clinician', 'dr.flood', '--name', 'Dr Flood']);
  const now = Date.now();
  // 5 devices x 50 failed reads (the per-device daily cap that is filed under the patient): 250 entries newer than anything before
  // (recorded from now on: a break of the glass a few seconds ago must not land among them; the upload allows 5 minutes of skew).
  for (let d = 0; d < 5; d++) {
    const dev = new HandBuiltDevice('dr.flood');
    const token = await dev.register(db);
    const body = dev.upload(Array.from({ length: 50 }, (_, i) => ({ recordedAt: new Date(now + d * 50 + i).toISOString(), patientId: restricted, outcome: '4' as const })));
    const r = await post(backend.url, AUDIT_UPLOAD_PATH, body, token);
    assert.equal(r.status, 200, r.text);
  }
  await officer.getByTestId('nav-accounting').click();
  await officer.locator('#accounting-patient').fill(restricted);
  await officer.getByRole('button', { name: 'Show' }).click();
  const older = officer.getByTestId('accounting-older');
  await older.waitFor();
  const glassRow = officer.locator('[data-testid=disclosure-row][data-what="break-glass"]');
  assert.equal(await glassRow.count(), 0, 'the first page holds only the flood');
  const marked = officer.locator('[data-testid=disclosure-row]', { has: officer.locator('[data-marks="not-assigned"]') });
  assert.ok((await marked.count()) >= 1, 'the failed attempts carry their mark');
  assert.match(await marked.first().innerText(), /Not assigned/);
  await older.click();
  await glassRow.first().waitFor();
  assert.match(await glassRow.first().innerText(), new RegExp(GLASS_TEXT));
  assert.equal(await older.count(), 0, 'the end of the accounting is reached');
});

test("a clinician's access history lists what they read, changed, exported or reached by breaking the glass", async () => {
  await officer.getByTestId('nav-history').click();
  await officer.locator('#history-clinician').fill('dr.kim');
  await officer.getByRole('button', { name: 'Show' }).click();
  await officer.getByTestId('disclosure-table').waitFor();
  const text = await officer.getByTestId('disclosure-table').innerText();
  assert.ok(text.includes(assigned) && text.includes(restricted));
  assert.ok((await officer.locator('[data-testid=disclosure-row][data-what="break-glass"]').count()) >= 1);
  await expectAccessible(officer, 'privacy-console-history');
  await screenshot(officer, 'privacy-console-history');
  const audited = await consoleDisclosures();
  assert.ok(audited.some((e) => e.query === '/console/api/clinicians/dr.kim/history' && e.patientId === restricted));
  assert.ok(audited.some((e) => e.query === '/console/api/clinicians/dr.kim/history' && e.patientId === assigned));
});

test('open flags page by cursor: a burst of newer flags cannot push an older one out of view (Show older flags)', async () => {
  const now = Date.now();
  const evidence = { refs: [{ kind: 'backend' as const, seq: 1 }], refsTotal: 1, numbers: {} };
  await raiseFlag(db, { rule: 'vip-or-staff', clinicianId: 'dr.kim', patientId: assigned, explanation: 'The oldest open flag.', evidence, dedupeKey: 'console-test-oldest', at: new Date(now - 10 * 86_400_000).toISOString() });
  await raiseFlags(
    db,
    Array.from({ length: FLAG_PAGE_MAX }, (_, i) => ({ rule: 'volume-spike' as const, clinicianId: 'dr.kim', patientId: assigned, explanation: `Burst flag ${i}.`, evidence, dedupeKey: `console-test-burst-${i}`, at: new Date(now - i * 1000).toISOString() })),
  );
  await officer.getByTestId('nav-flags').click();
  await officer.getByTestId('flags-page').waitFor();
  const older = officer.getByTestId('flags-older');
  await older.waitFor();
  const oldest = officer.locator('[data-testid=flag]', { hasText: 'The oldest open flag.' });
  assert.equal(await oldest.count(), 0, 'the first page holds the newest flags only');
  await older.click();
  await oldest.first().waitFor();
  assert.equal(await older.count(), 0, 'the end of the list is reached');
  // Leave the flags page, as the tests after this one expect to arrive on it.
  await officer.getByTestId('nav-accounting').click();
});

/** Raises an open flag about `clinicianId` at `at` (by default now: newer than every other). */
async function freshFlag(key: string, clinicianId = 'dr.kim', at = new Date()) {
  const flag = await raiseFlag(db, {
    rule: 'after-hours',
    clinicianId,
    patientId: assigned,
    explanation: `Tester flag ${key}.`,
    evidence: { refs: [{ kind: 'backend', seq: 1 }], refsTotal: 1, numbers: {} },
    dedupeKey: `console-test-${key}`,
    at: at.toISOString(),
  });
  return flag;
}
const flagRow = (id: string) => officer.locator(`[data-testid=flag][data-flag-id="${id}"]`);
async function showFlags() {
  await officer.getByTestId('nav-accounting').click();
  await officer.getByTestId('nav-flags').click();
  await officer.getByTestId('flags-page').waitFor();
}

test('Esc in the acknowledge dialog keeps the typed note for that flag (another flag starts empty); the draft ends at sign-out', async () => {
  const a = await freshFlag('draft-a');
  const b = await freshFlag('draft-b');
  await showFlags();
  const dialog = officer.getByTestId('acknowledge-dialog');
  await flagRow(a.id).getByTestId('flag-acknowledge').click();
  await dialog.locator('#ack-note').fill('Asked the ward manager; waiting');
  await officer.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await flagRow(a.id).getByTestId('flag-acknowledge').click();
  assert.equal(await dialog.locator('#ack-note').inputValue(), 'Asked the ward manager; waiting', 'the draft is back');
  await officer.keyboard.press('Escape');
  await flagRow(b.id).getByTestId('flag-acknowledge').click();
  assert.equal(await dialog.locator('#ack-note').inputValue(), '', "another flag's dialog starts empty");
  await officer.keyboard.press('Escape');
  // Leaving the flags page and coming back keeps it too.
  await showFlags();
  await flagRow(a.id).getByTestId('flag-acknowledge').click();
  assert.equal(await dialog.locator('#ack-note').inputValue(), 'Asked the ward manager; waiting');
  await officer.keyboard.press('Escape');
  await officer.getByTestId('console-sign-out').click();
  await officer.getByTestId('console-sign-in').waitFor();
  await officer.locator('#console-user').fill(OFFICER);
  await officer.getByRole('button', { name: 'Sign in with passkey' }).click();
  await officer.getByTestId('flags-page').waitFor();
  await flagRow(a.id).getByTestId('flag-acknowledge').click();
  assert.equal(await dialog.locator('#ack-note').inputValue(), '', 'signing out drops the draft');
  await officer.keyboard.press('Escape');
});

test('acknowledging a flag about yourself: the route answers 403 FLAG_ABOUT_YOURSELF and the dialog says why in words, keeping the note', async () => {
  const mine = await freshFlag('about-officer', OFFICER);
  const session = (await officerContext.cookies(`${consoleOrigin}/console/`)).find((c) => c.name === 'clinician-console')!.value;
  const direct = await fetch(`${consoleOrigin}/console/api/flags/${mine.id}/acknowledge`, {
    method: 'POST',
    headers: { [CONSOLE_REQUEST_HEADER]: '1', cookie: `clinician-console=${session}`, 'content-type': 'application/json' },
    body: JSON.stringify({ note: 'x' }),
  });
  assert.equal(direct.status, 403);
  const body = (await direct.json()) as { error: { code: string; message: string } };
  assert.deepEqual(body.error, { code: 'FLAG_ABOUT_YOURSELF', message: 'A flag about yourself must be acknowledged by another privacy officer.' });
  await showFlags();
  await flagRow(mine.id).getByTestId('flag-acknowledge').click();
  const dialog = officer.getByTestId('acknowledge-dialog');
  await dialog.locator('#ack-note').fill('This was my own test login.');
  await dialog.getByRole('button', { name: 'Acknowledge' }).click();
  const alert = dialog.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'A flag about yourself must be acknowledged by another privacy officer.');
  assert.equal(await dialog.locator('#ack-note').inputValue(), 'This was my own test login.', 'the note is kept');
  await expectAccessible(officer, 'privacy-console-acknowledge-own-flag');
  await officer.keyboard.press('Escape');
  const stored = await db.selectFrom('privacy_flags').select(['status']).where('id', '=', mine.id).executeTakeFirstOrThrow();
  assert.equal(stored.status, 'open');
});

test('Acknowledge with no note is reachable by Tab and says "Write a note first."; after acknowledging, focus moves to the next flag', async () => {
  const older = await freshFlag('focus-older', 'dr.kim', new Date(Date.now() - 1000));
  const newer = await freshFlag('focus-newer');
  await showFlags();
  await flagRow(older.id).waitFor();
  const ids = await officer.locator('[data-testid=flag]').evaluateAll((els) => els.map((e) => e.getAttribute('data-flag-id')));
  assert.equal(ids.indexOf(older.id), ids.indexOf(newer.id) + 1, 'the older flag follows the newer one');
  await flagRow(newer.id).getByTestId('flag-acknowledge').click();
  const dialog = officer.getByTestId('acknowledge-dialog');
  const submit = dialog.getByRole('button', { name: 'Acknowledge' });
  assert.equal(await submit.isDisabled(), false, 'the button is not disabled');
  // Tab from the empty note reaches Cancel, then Acknowledge.
  await officer.keyboard.press('Tab');
  await officer.keyboard.press('Tab');
  assert.equal(await officer.evaluate(() => document.activeElement?.textContent), 'Acknowledge');
  await officer.keyboard.press('Enter');
  const problem = dialog.getByTestId('ack-note-error');
  await problem.waitFor();
  assert.equal(await problem.innerText(), 'Write a note first.');
  assert.equal(await dialog.locator('#ack-note').getAttribute('aria-invalid'), 'true');
  assert.equal(await officer.evaluate(() => document.activeElement?.id), 'ack-note', 'focus goes to the note');
  await expectAccessible(officer, 'privacy-console-acknowledge-empty');
  assert.equal((await db.selectFrom('privacy_flags').select(['status']).where('id', '=', newer.id).executeTakeFirstOrThrow()).status, 'open', 'nothing was sent');
  await dialog.locator('#ack-note').fill('Checked: covering a colleague.');
  await submit.click();
  await flagRow(newer.id).waitFor({ state: 'detached' });
  await officer.waitForFunction((id) => document.activeElement?.closest('[data-testid=flag]')?.getAttribute('data-flag-id') === id, older.id);
});

test("the console's own views and exports are recorded as HOPERAT; the accounting hides them behind a checked 'Hide privacy-office views' the officer can clear; exports hold them", async () => {
  const purposes = (await db.selectFrom('disclosure_events').select(['entry']).orderBy('seq').execute())
    .map((r) => parseCanonicalAuditEntry(r.entry)!)
    .filter((e) => e.actor === OFFICER && e.patientId === assigned);
  assert.ok(purposes.length > 0);
  assert.deepEqual([...new Set(purposes.map((e) => e.purpose))], ['HOPERAT'], 'every console view of the patient is a healthcare-operations disclosure');
  await officer.getByTestId('nav-accounting').click();
  await officer.locator('#accounting-patient').fill(assigned);
  await officer.getByRole('button', { name: 'Show' }).click();
  await officer.getByTestId('disclosure-table').waitFor();
  const hide = officer.getByRole('checkbox', { name: 'Hide privacy-office views' });
  assert.equal(await hide.isChecked(), true, 'hidden by default');
  const officeRows = officer.locator('[data-testid=disclosure-row][data-purpose="HOPERAT"]');
  assert.equal(await officeRows.count(), 0);
  assert.match(await officer.getByTestId('accounting-hidden').innerText(), /\d+ privacy-office views? hidden/);
  assert.ok((await officer.locator('[data-testid=disclosure-row]').count()) >= 1, "the clinicians' disclosures stay listed");
  await expectAccessible(officer, 'privacy-console-accounting-hidden');
  await hide.uncheck();
  await officeRows.first().waitFor();
  assert.match(await officeRows.first().innerText(), new RegExp(OFFICER.replace('.', '\\.')));
  await hide.check();
  const [csvDownload] = await Promise.all([officer.waitForEvent('download'), officer.getByTestId('export-csv').click()]);
  const rows = parseCsv(readFileSync((await csvDownload.path())!, 'utf8'));
  const col = (name: string) => rows[0]!.indexOf(name);
  assert.ok(rows.some((r) => r[col('purpose')] === 'HOPERAT' && r[col('who')] === OFFICER), 'the export holds the privacy-office views');
});

test('a clinician without the role is refused on the page ("not available") and at every console route exactly as a missing page', async () => {
  // dr.kim's own passkey, in its own browser tab, on the console page.
  await kim.page.goto(`${consoleOrigin}/console/`);
  await kim.page.locator('#console-user').fill('dr.kim');
  await kim.page.getByRole('button', { name: 'Sign in with passkey' }).click();
  await kim.page.getByTestId('console-not-available').waitFor();
  assert.equal((await kim.page.getByTestId('console-not-available').innerText()).includes('not available'), true);
  assert.equal((await kim.page.context().cookies(`${consoleOrigin}/console/`)).filter((c) => c.name === 'clinician-console').length, 0, 'no session for a clinician');
  await expectAccessible(kim.page, 'privacy-console-not-available');
  await screenshot(kim.page, 'privacy-console-not-available');
  // Enrolling a console passkey with a valid code: the same "not available", and the code is not spent.
  const code = backend.admin(['enroll-code', 'dr.kim']);
  const enroll = await call(consoleOrigin, 'POST', '/console/api/enroll/options', { body: { clinicianId: 'dr.kim', code } });
  assert.equal(enroll.status, 403, 'without the console header: refused before anything');
  const enrollWithHeader = await fetch(`${consoleOrigin}/console/api/enroll/options`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CONSOLE_REQUEST_HEADER]: '1' },
    body: JSON.stringify({ clinicianId: 'dr.kim', code }),
  });
  const missing = await missingPage();
  assert.equal(enrollWithHeader.status, 404);
  assert.equal(await enrollWithHeader.text(), missing.text);
  // Straight to the console's enrollment verify with the valid code and a real passkey response: the answer of a wrong code, and the code is not spent.
  const desktopOptions = await post(backend.url, '/v1/enroll/options', { clinicianId: 'dr.kim', code });
  assert.equal(desktopOptions.status, 200);
  // A second authenticator: the first already holds dr.kim's passkey (excluded at registration).
  const second = await Authenticator.open(browser, renderer.origin);
  const response = await second.create(desktopOptions.json.options);
  await second.close();
  const verify = await fetch(`${consoleOrigin}/console/api/enroll/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CONSOLE_REQUEST_HEADER]: '1' },
    body: JSON.stringify({ clinicianId: 'dr.kim', code, response }),
  });
  assert.equal(verify.status, 400);
  assert.equal(((await verify.json()) as { error: { code: string } }).error.code, 'ENROLLMENT_CODE_INVALID');
  assert.equal((await post(backend.url, '/v1/enroll/options', { clinicianId: 'dr.kim', code })).status, 200, 'the code still works on the desktop');
  assert.equal((await db.selectFrom('devices').select('id').where('id', '=', consoleDeviceId('dr.kim')).execute()).length, 0, 'no console device for a clinician');

  // dr.kim's valid desktop session, as a bearer token and as the console cookie, at every console route.
  const routes: Array<['GET' | 'POST', string, unknown?]> = [
    ['GET', '/console/api/me'],
    ['GET', '/console/api/flags'],
    ['POST', '/console/api/flags/x/acknowledge', { note: 'x' }],
    ['GET', `/console/api/patients/${assigned}/accounting`],
    ['GET', `/console/api/patients/${assigned}/accounting.fhir.json`],
    ['GET', `/console/api/patients/${assigned}/accounting.csv`],
    ['GET', '/console/api/clinicians/dr.kim/history'],
  ];
  for (const [method, path, body] of routes) {
    const ways: Array<Record<string, string>> = [{ authorization: `Bearer ${kimToken}` }, { cookie: `clinician-console=${kimToken}` }];
    for (const auth of ways) {
      const r = await fetch(`${consoleOrigin}${path}`, {
        method,
        headers: { [CONSOLE_REQUEST_HEADER]: '1', ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(await r.text(), missing.text, `${method} ${path}: the missing page's body`);
    }
  }
});

test("console requests without the console's header, or from another site, are refused (CSRF)", async () => {
  const session = (await officerContext.cookies(`${consoleOrigin}/console/`)).find((c) => c.name === 'clinician-console')!.value;
  const ask = (headers: Record<string, string>) => fetch(`${consoleOrigin}/console/api/me`, { headers: { cookie: `clinician-console=${session}`, ...headers } });
  assert.equal((await ask({ [CONSOLE_REQUEST_HEADER]: '1' })).status, 200, 'the officer with the header');
  assert.equal((await ask({})).status, 403);
  assert.equal((await ask({ [CONSOLE_REQUEST_HEADER]: '1', origin: 'http://attacker.invalid' })).status, 403);
  assert.equal((await ask({ [CONSOLE_REQUEST_HEADER]: '1', 'sec-fetch-site': 'cross-site' })).status, 403);
  const signOut = await fetch(`${consoleOrigin}/console/api/sign-out`, { method: 'POST', headers: { cookie: `clinician-console=${session}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(signOut.status, 403, 'a cross-site sign-out is refused');
  assert.equal((await ask({ [CONSOLE_REQUEST_HEADER]: '1' })).status, 200, 'and changed nothing');
});

test("the desktop's sign-in refuses a passkey ceremony made on the console page (the console's origin is the console's only)", async () => {
  const options = await post(backend.url, '/v1/auth/options', { clinicianId: OFFICER });
  assert.equal(options.status, 200);
  const used = (await officer.evaluate((o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<{ response: Json }> } }).__webauthn.usePasskey(o), options.json.options)) as { response: Json };
  const verify = await post(backend.url, '/v1/auth/verify', { clinicianId: OFFICER, deviceId: consoleDeviceId(OFFICER), response: used.response });
  assert.equal(verify.status, 401);
  assert.equal(errorCode(verify), 'ASSERTION_INVALID');
});

test('a role revoked while signed in: the next console call answers "not available" and the page returns to sign-in', async () => {
  backend.admin(['revoke-role', OFFICER, 'privacy-officer']);
  await officer.getByTestId('nav-flags').click();
  await officer.getByTestId('console-sign-in').waitFor();
  assert.match(await officer.getByTestId('console-signed-out-reason').innerText(), /session ended/i);
});
