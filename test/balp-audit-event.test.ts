/**
 * Every kind of audit event the device and the backend produce, exported as
 * FHIR AuditEvents, checked against the IHE BALP codes of
 * ../shared/standards/ihe-balp-auditevent.md (read from that file): type,
 * subtype system and code, action, the client and server agents' roles per
 * kind, the user agent's type and identifier system, the patient entity,
 * data entities as `Type/id`, the query entity in base64, an
 * OperationOutcome on failure, recorded and source.observer. The device's
 * events come from the real services over a real encrypted cache (chart,
 * search, failed read, import, charting, pull, conflict choices) and from
 * the command line run as a child process; the backend's own disclosure
 * events from its ledger on SQLite and PostgreSQL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { chartResults, openChart, searchPatients } from '../electron/services/patient-records';
import { auditEventList } from '../electron/services/cache-maintenance';
import { recordChange, settle } from '../electron/services/outbox';
import { listConflicts, resolveConflict } from '../electron/services/conflicts';
import { applyPulledPage } from '../electron/services/sync-pull';
import { recordDisclosures } from '../server/audit/disclosure-ledger';
import { AppError } from '../shared/app-error';
import type { FhirResource } from '../shared/contract';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { openBackendDb } from './support/backend-db';
import { runCli, ROOT } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { testKeychain } from './support/test-keychain';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- The BALP codes, read from the standards file ----

const STANDARD = readFileSync(resolve(ROOT, '..', 'shared', 'standards', 'ihe-balp-auditevent.md'), 'utf8');

function find(pattern: RegExp, what: string): RegExpMatchArray {
  const m = STANDARD.match(pattern);
  if (!m) throw new Error(`ihe-balp-auditevent.md no longer says ${what}: update this test`);
  return m;
}

/** `system#code` as the file writes it (a bare code system name is under terminology.hl7.org). */
function coding(text: string): { system: string; code: string } {
  const [system, code] = text.split('#') as [string, string];
  return { system: system.includes('/') ? system : `http://terminology.hl7.org/CodeSystem/${system}`, code };
}

/** The event table: each subtype code with its action, and the event type. */
function eventTable() {
  const actionOf = new Map<string, string>();
  let type = '';
  const subtypeSystem = find(/subtype \(system (\S+)\)/, 'the subtype system')[1]!;
  for (const row of STANDARD.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| event'))) {
    const [, , typeCell, subtypes, action] = row.split('|').map((c) => c.trim());
    if (typeCell !== 'same') type = typeCell!;
    for (const code of subtypes!.split('/').map((s) => s.trim())) actionOf.set(code, action!);
  }
  return { type: coding(type), subtypeSystem, actionOf };
}

const TABLE = eventTable();
const DCM = find(/agent \(DICOM, (\S+)\)/, 'the DICOM system')[1]!;
const READ_AGENTS = find(/- read: client (\d+) \(([^)]+)\), server (\d+) \(([^)]+)\)/, 'the read agents');
find(/- create, update, query: the other way round/, 'create, update and query agents are the other way round');
const DELETE_AGENTS = find(/- delete: client (\d+) \(([^)]+)\), server (\S+#\w+)/, 'the delete agents');
const USER = find(/type\s+(\S+)#(\w+) for read and query,\s+(\w+), (\w+) or (\w+) for create, update and delete/, 'the user agent types');
const PATIENT_ENTITY = find(/- patient: type (\S+),\s+role (\S+), what = Reference\(Patient/, 'the patient entity');
const DATA_ENTITY = find(/- data: type (\S+),\s+role (\S+), what = the resource/, 'the data entity');
const QUERY_ENTITY = find(/- query: role (\S+), query = the raw request, base64/, 'the query entity');
const SUCCESS = coding(find(/outcome: (\S+) on success/, 'the success outcome')[1]!);

const readClient = { system: DCM, code: READ_AGENTS[1]! };
const readServer = { system: DCM, code: READ_AGENTS[3]! };
/** Agents per action: read as written, create/update/query the other way round, delete as written. */
const AGENTS: Record<string, { client: { system: string; code: string }; server: { system: string; code: string }; user: string[] }> = {
  R: { client: readClient, server: readServer, user: [USER[2]!] },
  E: { client: readServer, server: readClient, user: [USER[2]!] },
  C: { client: readServer, server: readClient, user: [USER[3]!, USER[4]!, USER[5]!] },
  U: { client: readServer, server: readClient, user: [USER[3]!, USER[4]!, USER[5]!] },
  D: { client: { system: DCM, code: DELETE_AGENTS[1]! }, server: coding(DELETE_AGENTS[3]!), user: [USER[3]!, USER[4]!, USER[5]!] },
};
const USER_TYPE_SYSTEM = USER[1]!;

const CLINICIAN_SYSTEM = 'urn:clinician-desktop:clinician';
const OS_USER_SYSTEM = 'urn:clinician-desktop:os-user';
const REFERENCE = /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

interface Expect {
  subtype: string;
  user: { system: string; value: string };
  patientId: string | null;
  /** The data entities' references, exactly (order kept); the patient's own reference is the patient entity. */
  data?: string[];
  query?: string;
  /** The recorder: the device id, or the backend's name. */
  observer: string;
  /** Who the client (the requesting application) and the server (what served or stored the data) agents are, when checked. */
  client?: string;
  server?: string;
}

const codingOf = (cc: Json) => ({ system: cc.coding[0].system, code: cc.coding[0].code });
const at = (e: Json, what: string) => `${what} of event ${e.id} (${e.action} ${e.subtype?.map((s: Json) => s.code).join('+')})`;

/** Asserts one exported AuditEvent against the BALP codes; returns its data references. */
function assertBalp(e: Json, x: Expect): string[] {
  assert.equal(e.resourceType, 'AuditEvent');
  assert.match(e.id, /^[A-Za-z0-9\-.]{1,64}$/, at(e, 'id'));
  assert.deepEqual({ system: e.type.system, code: e.type.code }, TABLE.type, at(e, 'type'));
  // Subtype: the restful interaction first (a conflict choice is an update), then our own code, if any.
  const restful = CONFLICT_CODES.has(x.subtype) ? 'update' : x.subtype;
  assert.deepEqual({ system: e.subtype[0].system, code: e.subtype[0].code }, { system: TABLE.subtypeSystem, code: restful }, at(e, 'subtype'));
  if (CONFLICT_CODES.has(x.subtype)) assert.deepEqual(e.subtype[1], { system: 'urn:clinician-desktop:audit-subtype', code: x.subtype }, at(e, 'conflict subtype'));
  else assert.equal(e.subtype.length, 1, at(e, 'subtypes'));
  const action = TABLE.actionOf.get(restful);
  assert.ok(action, `${restful} is a BALP subtype`);
  assert.equal(e.action, action, at(e, 'action'));
  assert.match(e.recorded, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, at(e, 'recorded'));
  assert.ok(['0', '4', '8', '12'].includes(e.outcome), at(e, 'outcome'));
  assert.equal(e.source.observer.identifier.value, x.observer, at(e, 'source.observer'));
  assert.ok(e.source.observer.identifier.system, at(e, 'source.observer system'));

  // Agents: the user (requestor), the client and the server, with their roles for this action.
  const want = AGENTS[action!]!;
  const user = e.agent.filter((a: Json) => a.requestor === true);
  assert.equal(user.length, 1, at(e, 'one requestor'));
  assert.equal(user[0].type.coding[0].system, USER_TYPE_SYSTEM, at(e, 'user type system'));
  assert.equal(user[0].type.coding[0].code, want.user[0], at(e, 'user type'));
  assert.ok(want.user.includes(user[0].type.coding[0].code));
  assert.deepEqual(user[0].who.identifier, x.user, at(e, 'user identifier'));
  const others = e.agent.filter((a: Json) => a.requestor === false);
  assert.equal(others.length, 2, at(e, 'client and server agents'));
  const [client, server] = others;
  assert.deepEqual(codingOf(client.type), want.client, at(e, 'client role'));
  assert.deepEqual(codingOf(server.type), want.server, at(e, 'server role'));
  for (const agent of [client, server]) {
    assert.ok(agent.who.identifier.system && agent.who.identifier.value, at(e, 'agent who'));
    assert.ok(agent.network.address && agent.network.type, at(e, 'agent network'));
  }
  if (x.client !== undefined) assert.equal(client.who.identifier.value, x.client, at(e, 'client agent'));
  if (x.server !== undefined) assert.equal(server.who.identifier.value, x.server, at(e, 'server agent'));

  // Entities: the patient, data as Type/id, the query in base64, and an OperationOutcome on failure.
  const patients = e.entity.filter((n: Json) => n.role?.code === PATIENT_ENTITY_ROLE.code && n.role?.system === PATIENT_ENTITY_ROLE.system);
  if (x.patientId === null) assert.equal(patients.length, 0, at(e, 'no patient entity'));
  else {
    assert.equal(patients.length, 1, at(e, 'patient entity'));
    assert.deepEqual({ system: patients[0].type.system, code: patients[0].type.code }, coding(PATIENT_ENTITY[1]!), at(e, 'patient entity type'));
    assert.equal(patients[0].what.reference, `Patient/${x.patientId}`, at(e, 'patient reference'));
  }
  const data = e.entity.filter((n: Json) => n.role?.code === DATA_ENTITY_ROLE.code && n.role?.system === DATA_ENTITY_ROLE.system);
  for (const d of data) {
    assert.deepEqual({ system: d.type.system, code: d.type.code }, coding(DATA_ENTITY[1]!), at(e, 'data entity type'));
    assert.match(d.what.reference, REFERENCE, at(e, 'data entity as Type/id'));
  }
  const refs = data.map((d: Json) => d.what.reference as string);
  if (x.data) assert.deepEqual(refs, x.data, at(e, 'data entities'));
  const queries = e.entity.filter((n: Json) => n.role?.code === QUERY_ENTITY_ROLE.code && n.role?.system === QUERY_ENTITY_ROLE.system);
  if (x.query === undefined) assert.equal(queries.length, 0, at(e, 'no query entity'));
  else {
    assert.equal(queries.length, 1, at(e, 'query entity'));
    assert.equal(Buffer.from(queries[0].query, 'base64').toString('utf8'), x.query, at(e, 'query, base64'));
  }
  const outcomes = e.entity.filter((n: Json) => n.type?.code === 'OperationOutcome');
  if (e.outcome === SUCCESS.code) {
    assert.equal(outcomes.length, 0, at(e, 'no OperationOutcome on success'));
    assert.equal(e.contained, undefined, at(e, 'nothing contained on success'));
  } else {
    assert.equal(outcomes.length, 1, at(e, 'OperationOutcome entity on failure'));
    const ref = outcomes[0].what.reference as string;
    assert.match(ref, /^#/, at(e, 'the OperationOutcome is contained'));
    const oo = (e.contained as Json[]).find((c) => c.id === ref.slice(1));
    assert.equal(oo?.resourceType, 'OperationOutcome', at(e, 'contained OperationOutcome'));
    assert.ok(oo.issue.length > 0 && oo.issue[0].severity && oo.issue[0].code, at(e, 'its issue'));
  }
  return refs;
}

const PATIENT_ENTITY_ROLE = coding(PATIENT_ENTITY[2]!);
const DATA_ENTITY_ROLE = coding(DATA_ENTITY[2]!);
const QUERY_ENTITY_ROLE = coding(QUERY_ENTITY[1]!);
const CONFLICT_CODES = new Set(['conflict-keep-mine', 'conflict-take-theirs']);

test('the codes read from the standards file are the BALP ones', () => {
  // A guard on the parsing above: if the file's wording moved, these would not be what BALP says.
  assert.deepEqual(TABLE.type, { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
  assert.deepEqual(Object.fromEntries(TABLE.actionOf), { read: 'R', vread: 'R', create: 'C', update: 'U', patch: 'U', search: 'E', 'search-type': 'E', 'search-system': 'E', delete: 'D' });
  assert.deepEqual([readClient.code, readServer.code, AGENTS.D!.client.code], ['110152', '110153', '110150']);
  assert.deepEqual(AGENTS.D!.server, { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'custodian' });
  assert.deepEqual([USER[2], USER[3]], ['IRCP', 'AUT']);
  assert.deepEqual([PATIENT_ENTITY_ROLE.code, DATA_ENTITY_ROLE.code, QUERY_ENTITY_ROLE.code], ['1', '4', '24']);
  assert.equal(SUCCESS.code, '0');
});

// ---- The device ----

const P1 = 'balp-p1';
const P2 = 'balp-p2';
let cache: TestCache;
let events: Json[] = [];
let chartRead: string[] = [];
let resultsRead: string[] = [];
let conflictRefs: { mine: string; theirs: string; theirVersion: string } = { mine: '', theirs: '', theirVersion: '' };

before(async () => {
  cache = await openTestCache('dr.balp');
  const s = cache.session;
  // Create: two new patients (250 observations: two entries of at most 200 references), then update by re-import.
  await importBundle(s, Buffer.from(JSON.stringify(syntheticPatientBundle({ patientId: P1, observations: 250 }))));
  await importBundle(s, Buffer.from(JSON.stringify(syntheticPatientBundle({ patientId: P2, observations: 3 }))));
  await importBundle(s, Buffer.from(JSON.stringify(syntheticPatientBundle({ patientId: P2, observations: 3 }))));
  // Read: the chart, naming each resource it returned.
  const chart = await openChart(s, P1);
  chartRead = [...chart.latestObservations.map((r) => `Observation/${r.id}`), ...Object.entries(chart.groups).flatMap(([type, g]) => g.items.map((r) => `${type}/${r.id}`))];
  // Read: the Results tab's observation history, naming each observation it returned.
  resultsRead = (await chartResults(s, P1)).items.map((r) => `Observation/${r.id}`);
  // Query: with a match and without.
  await searchPatients(s, 'Testfamily');
  await searchPatients(s, 'Nobody Matches');
  // A failed read.
  await assert.rejects(openChart(s, 'not-in-cache'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  // Charting: a new resource, then a change to it.
  const obs = { resourceType: 'Observation', id: 'balp-new', status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${P1}` } } as FhirResource;
  await recordChange(s, obs);
  await recordChange(s, { ...obs, status: 'amended' } as FhirResource);
  // Conflicts: the backend answers two pushes with its own version; the clinician keeps one, takes the other.
  for (const [id, choice] of [[`${P1}-o1`, 'mine'], [`${P1}-o2`, 'theirs']] as const) {
    const mine = { resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${P1}` } } as FhirResource;
    const key = await recordChange(s, mine);
    await settle(s, [{ idempotencyKey: key, status: 'conflict', current: { ...mine, status: 'cancelled', meta: { versionId: '9' } }, currentVersion: '9' }]);
    if (choice === 'mine') {
      await listConflicts(s);
      conflictRefs = { mine: `Observation/${id}`, theirs: '', theirVersion: '9' };
    } else conflictRefs.theirs = `Observation/${id}`;
    await resolveConflict(s, key, choice);
  }
  // A pull: one resource changed on the backend, and P2 no longer assigned (removed from the cache).
  await applyPulledPage(s, {
    resources: [{ resourceType: 'Observation', id: `${P1}-o3`, status: 'final', code: { text: 'y' }, subject: { reference: `Patient/${P1}` }, meta: { versionId: '4' } }],
    cursor: '5/Observation/balp-p1-o3',
    more: false,
    assignedPatients: [P1],
  });
  events = (await auditEventList(s)) as Json[];
});
after(() => cache.dispose());

const device = () => ({
  observer: cache.session.context.deviceId,
  user: { system: CLINICIAN_SYSTEM, value: 'dr.balp' },
  client: 'clinician-desktop',
  server: `clinician-desktop-cache:${cache.session.context.deviceId}`,
});
const ofKind = (action: string, subtype: string, outcome = '0') =>
  events.filter((e) => e.action === action && e.subtype.at(-1).code === subtype && e.outcome === outcome);

test('device: an import writes create then update events, at most 200 data references each', () => {
  const creates = ofKind('C', 'create');
  const p1 = creates.filter((e) => e.entity[0].what.reference === `Patient/${P1}` && !JSON.stringify(e.entity).includes('balp-new'));
  assert.equal(p1.length, 2, '251 resources: two entries');
  const refs = p1.flatMap((e) => assertBalp(e, { ...device(), subtype: 'create', patientId: P1 }));
  assert.equal(refs.length, 250, 'every observation, the patient as the patient entity');
  assert.ok(p1.every((e) => e.entity.length <= 201));
  const updates = ofKind('U', 'update').filter((e) => e.entity[0].what.reference === `Patient/${P2}`);
  assert.equal(updates.length, 1);
  assertBalp(updates[0]!, { ...device(), subtype: 'update', patientId: P2, data: [0, 1, 2].map((j) => `Observation/${P2}-o${j}`) });
});

test('device: a chart read names, as Type/id, exactly the resources it returned (no search URLs)', () => {
  // The chart was the first read of P1 (a conflict listing comes later).
  const reads = ofKind('R', 'read').filter((e) => e.entity[0].what.reference === `Patient/${P1}`).slice(0, 3);
  assert.equal(chartRead.length, 1, 'the chart holds the newest observation of the one code');
  assert.equal(resultsRead.length, 200, 'the Results tab shows the 200 newest observations');
  assert.equal(reads.length, 3, 'the chart in one entry; the patient and 200 observations in two');
  const refs = reads.map((e) => assertBalp(e, { ...device(), subtype: 'read', patientId: P1 }));
  assert.deepEqual(refs[0], chartRead);
  assert.deepEqual(refs.slice(1).flat(), resultsRead);
  for (const e of reads) assert.ok(!JSON.stringify(e.entity).includes('?'), 'no query URL in a read');
});

test('device: a search is a query with the client as source (110153), the server as destination (110152), and the query in base64', () => {
  const queries = ofKind('E', 'search-type');
  assert.equal(queries.length, 3, 'two patients found, then none');
  const found = queries.filter((e) => e.entity.some((n: Json) => n.role.code === '1'));
  assert.deepEqual(found.map((e) => e.entity[0].what.reference).sort(), [`Patient/${P1}`, `Patient/${P2}`]);
  for (const e of found) assertBalp(e, { ...device(), subtype: 'search-type', patientId: e.entity[0].what.reference.slice(8), data: [], query: 'Testfamily' });
  const none = queries.find((e) => !found.includes(e))!;
  assertBalp(none, { ...device(), subtype: 'search-type', patientId: null, data: [], query: 'Nobody Matches' });
});

test('device: a failed read is its own event with outcome 4 and a contained OperationOutcome', () => {
  const failed = ofKind('R', 'read', '4');
  assert.equal(failed.length, 1);
  const e = failed[0]!;
  assertBalp(e, { ...device(), subtype: 'read', patientId: 'not-in-cache', data: [] });
  assert.equal(e.contained[0].issue[0].code, 'not-found');
  assert.ok(!JSON.stringify(e.contained).includes('not-in-cache'), 'the OperationOutcome names nothing');
});

test('device: charting writes create and update events with the clinician as author', () => {
  const create = ofKind('C', 'create').find((e) => e.entity.some((n: Json) => n.what?.reference === 'Observation/balp-new'));
  assertBalp(create!, { ...device(), subtype: 'create', patientId: P1, data: ['Observation/balp-new'] });
  const update = ofKind('U', 'update').find((e) => e.entity.some((n: Json) => n.what?.reference === 'Observation/balp-new'));
  assertBalp(update!, { ...device(), subtype: 'update', patientId: P1, data: ['Observation/balp-new'] });
});

test('device: conflict choices are updates (restful update, our code beside it), naming the version chosen over', () => {
  const keep = ofKind('U', 'conflict-keep-mine');
  const take = ofKind('U', 'conflict-take-theirs');
  assert.equal(keep.length, 1);
  assert.equal(take.length, 1);
  assertBalp(keep[0]!, { ...device(), subtype: 'conflict-keep-mine', patientId: P1, data: [conflictRefs.mine, `${conflictRefs.mine}/_history/9`] });
  assertBalp(take[0]!, { ...device(), subtype: 'conflict-take-theirs', patientId: P1, data: [conflictRefs.theirs, `${conflictRefs.theirs}/_history/9`] });
  const listing = ofKind('R', 'read').filter((e) => e.entity.length === 2 && e.entity[1].what.reference === conflictRefs.mine);
  assert.equal(listing.length, 1, 'listing conflicts is a read');
  assertBalp(listing[0]!, { ...device(), subtype: 'read', patientId: P1, data: [conflictRefs.mine] });
});

test('device: a pull writes update events, and a patient no longer assigned is deleted with the client as application and the server as custodian', () => {
  const pulled = ofKind('U', 'update').find((e) => e.entity.some((n: Json) => n.what?.reference === `Observation/${P1}-o3`));
  assertBalp(pulled!, { ...device(), subtype: 'update', patientId: P1, data: [`Observation/${P1}-o3`] });
  const deletes = ofKind('D', 'delete');
  assert.equal(deletes.length, 1);
  assertBalp(deletes[0]!, { ...device(), subtype: 'delete', patientId: P2, data: [] });
});

test('device: every exported event passes the BALP checks', () => {
  assert.ok(events.length > 15);
  for (const e of events) {
    const patient = e.entity.find((n: Json) => n.role?.code === '1')?.what.reference.slice(8) ?? null;
    const query = e.entity.find((n: Json) => n.role?.code === '24');
    assertBalp(e, { ...device(), subtype: e.subtype.at(-1).code, patientId: patient, ...(query ? { query: Buffer.from(query.query, 'base64').toString('utf8') } : {}) });
  }
});

test('command line: its events name the OS account with its own identifier system, never as a clinician', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('balp-cli');
  try {
    const dataDir = join(dir.path, 'cli-cache');
    const bundle = join(dir.path, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId: 'balp-cli', observations: 2 })));
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const imported = runCli(['import', bundle, '--data-dir', dataDir], env);
    assert.equal(imported.status, 0, imported.stderr);
    const exported = runCli(['audit-export', '--data-dir', dataDir], env);
    assert.equal(exported.status, 0, exported.stderr);
    const cliEvents = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    assert.equal(cliEvents.length, 1);
    const observer = cliEvents[0]!.source.observer.identifier.value as string;
    assertBalp(cliEvents[0]!, {
      subtype: 'create',
      user: { system: OS_USER_SYSTEM, value: userInfo().username },
      patientId: 'balp-cli',
      data: ['Observation/balp-cli-o0', 'Observation/balp-cli-o1'],
      observer,
    });
    runCli(['wipe', '--data-dir', dataDir], env);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

// ---- The backend's own disclosures ----

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`backend (${engine}): its disclosure events (read, query, refused read, version read) pass the BALP checks, recorded by the backend`, async () => {
    const dir = scratchDir(`balp-backend-${engine}`);
    const { db, close } = await openBackendDb(engine, dir.path);
    try {
      const caller = { clinicianId: 'dr.balp', deviceId: '6c1f1a56-0c7e-4d55-9d1e-3f3f3f3f3f3f', scope: 'full' as const };
      const clock = () => new Date('2026-11-25T12:00:00.000Z');
      await db.transaction().execute((trx) =>
        recordDisclosures(
          trx,
          caller,
          [
            { action: 'R', subtype: 'read', patientId: P1, entities: [`Observation/${P1}-o1`], outcome: '0', query: null },
            { action: 'E', subtype: 'search-type', patientId: P1, entities: [`Patient/${P1}`, `Observation/${P1}-o2`], outcome: '0', query: '/v1/sync/pull?cursor=1' },
            { action: 'R', subtype: 'read', patientId: P2, entities: [`Observation/${P2}-o1`], outcome: '4', query: null },
            { action: 'R', subtype: 'vread', patientId: P1, entities: [`Observation/${P1}-o1/_history/2`], outcome: '0', query: null },
          ],
          clock,
        ),
      );
      const rows = await db.selectFrom('disclosure_events').select(['seq', 'event']).orderBy('seq').execute();
      const stored = rows.map((r) => JSON.parse(r.event) as Json);
      assert.equal(stored.length, 4);
      const observer = stored[0]!.source.observer.identifier.value as string;
      assert.notEqual(observer, caller.deviceId, 'the backend, not the device, recorded these');
      // The client is the desktop that asked (at the device's address), the server the backend (at its own).
      const who = { observer, user: { system: CLINICIAN_SYSTEM, value: 'dr.balp' }, client: 'clinician-desktop', server: observer };
      assertBalp(stored[0]!, { ...who, subtype: 'read', patientId: P1, data: [`Observation/${P1}-o1`] });
      assertBalp(stored[1]!, { ...who, subtype: 'search-type', patientId: P1, data: [`Observation/${P1}-o2`], query: '/v1/sync/pull?cursor=1' });
      assertBalp(stored[2]!, { ...who, subtype: 'read', patientId: P2, data: [`Observation/${P2}-o1`] });
      assertBalp(stored[3]!, { ...who, subtype: 'vread', patientId: P1, data: [`Observation/${P1}-o1/_history/2`] });
      for (const e of stored) {
        const [client, server] = e.agent.filter((a: Json) => a.requestor === false);
        assert.equal(client.network.address, `urn:uuid:${caller.deviceId}`, 'the client agent is at the device');
        assert.notEqual(server.network.address, client.network.address, 'the server agent is the backend, elsewhere');
      }
      assert.equal(stored[2]!.outcome, '4');
      assert.equal(new Set(stored.map((e) => e.id)).size, 4, 'distinct event ids');
    } finally {
      await close();
      dir.remove();
    }
  });
}
