/**
 * Junk over IPC: 50+ malformed payloads (wrong types, huge strings,
 * prototype-pollution keys, missing or extra fields, unknown call names) and
 * callers from the wrong origin or frame each get a typed error value from
 * the same dispatch the app binds to ipcMain; nothing throws, nothing is
 * stored or audited, no prototype is polluted, and the next good call works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { importBundle } from '../electron/services/bundle-import';
import { cacheStats } from '../electron/services/cache-maintenance';
import { verifyAuditChain } from '../electron/services/audit-chain';
import type { Caller } from '../electron/services/caller-policy';
import type { IpcMain } from 'electron';
import { bindRegistry } from '../electron/ipc-bridge';
import { CALL_NAMES, ipcChannelFor } from '../shared/call-names';
import type { Result } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const ORIGIN = 'app://clinician';
const APP: Caller = { url: `${ORIGIN}/index.html`, isMainFrame: true };
const options = { trustedOrigins: [ORIGIN] };
const patient = loadFixturePatients()[0]!;

let cache: TestCache;
let registry: HandlerRegistry;

before(async () => {
  cache = await openTestCache();
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
  registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'test' });
});
after(() => cache.dispose());

const HUGE = 'x'.repeat(50 * 1024 * 1024);
const polluted = (json: string) => JSON.parse(json) as unknown;

const malformed: Array<[string, unknown]> = [
  // patients.search
  ['patients.search', undefined],
  ['patients.search', null],
  ['patients.search', 42],
  ['patients.search', 'Bibi'],
  ['patients.search', []],
  ['patients.search', {}],
  ['patients.search', { query: 1 }],
  ['patients.search', { query: null }],
  ['patients.search', { query: true }],
  ['patients.search', { query: '' }],
  ['patients.search', { query: '    ' }],
  ['patients.search', { query: 'x'.repeat(101) }],
  ['patients.search', { query: HUGE }],
  ['patients.search', { query: ['a'] }],
  ['patients.search', { query: { toString: 'a' } }],
  ['patients.search', { query: 'a', extra: 1 }],
  ['patients.search', polluted('{"__proto__": {"polluted": true}, "query": "a"}')],
  ['patients.search', polluted('{"constructor": {"prototype": {"polluted": true}}, "query": "a"}')],
  ['patients.search', polluted('{"prototype": {"polluted": true}, "query": "a"}')],
  ['patients.search', Object.assign(Object.create(null) as object, { nothing: 1 })],
  ['patients.search', new Date()],
  ['patients.search', { query: 'a', [Symbol('s')]: 1, more: 2 }],
  // chart.open
  ['chart.open', {}],
  ['chart.open', { patientId: null }],
  ['chart.open', { patientId: 1 }],
  ['chart.open', { patientId: '' }],
  ['chart.open', { patientId: '../../etc/passwd' }],
  ['chart.open', { patientId: 'a/b' }],
  ['chart.open', { patientId: "x' OR 1=1 --" }],
  ['chart.open', { patientId: 'a'.repeat(65) }],
  ['chart.open', { patientId: HUGE }],
  ['chart.open', { patientId: 'abc\u0000' }],
  ['chart.open', { patientId: 'ok', more: 1 }],
  ['chart.open', { patientId: ['ok'] }],
  ['chart.open', polluted('{"__proto__": {"isAdmin": true}, "patientId": "ok"}')],
  ['chart.open', { patientId: { $gt: '' } }],
  ['chart.open', 'patientId=ok'],
  // chart.results
  ['chart.results', {}],
  ['chart.results', { patientId: 7 }],
  ['chart.results', { patientId: '../x' }],
  ['chart.results', { patientId: HUGE }],
  ['chart.results', { patientId: 'ok', limit: 500 }],
  ['chart.results', polluted('{"__proto__": {"polluted": true}, "patientId": "ok"}')],
  // chart.encounters
  ['chart.encounters', {}],
  ['chart.encounters', { patientId: ['ok'] }],
  ['chart.encounters', { patientId: 'a b' }],
  ['chart.encounters', { patientId: 'ok', type: 'Observation' }],
  // audit.forPatient
  ['audit.forPatient', { patientId: 'ok' }],
  ['audit.forPatient', { patientId: 'ok', limit: 0 }],
  ['audit.forPatient', { patientId: 'ok', limit: -1 }],
  ['audit.forPatient', { patientId: 'ok', limit: 1e9 }],
  ['audit.forPatient', { patientId: 'ok', limit: 1.5 }],
  ['audit.forPatient', { patientId: 'ok', limit: Number.NaN }],
  ['audit.forPatient', { patientId: 'ok', limit: Number.POSITIVE_INFINITY }],
  ['audit.forPatient', { patientId: 'ok', limit: '10' }],
  ['audit.forPatient', { patientId: 'ok', limit: 10n }],
  ['audit.forPatient', { limit: 10 }],
  // app.status
  ['app.status', null],
  ['app.status', []],
  ['app.status', { verbose: true }],
  ['app.status', polluted('{"__proto__": {"polluted": true}}')],
];

const unknownNames: unknown[] = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'patients', 'patients.search.x', 'chart.delete', '', 42, null, {}, ['chart.open']];

test(`${malformed.length} malformed payloads each get INVALID_INPUT, with no content echoed back`, async () => {
  assert.ok(malformed.length + unknownNames.length >= 50);
  for (const [i, [name, payload]] of malformed.entries()) {
    const r = (await dispatch(registry, name, payload, APP, options)) as Result<unknown>;
    assert.equal(r.ok, false, `payload #${i} for ${name} was accepted`);
    if (r.ok) continue;
    assert.equal(r.error.code, 'INVALID_INPUT', `payload #${i} for ${name}`);
    assert.ok(r.error.message.length < 200, 'short message');
    assert.doesNotMatch(r.error.message, /xxxxxxxx|OR 1=1|passwd|polluted/);
    // The field list carries the schema's messages, never the values or made-up key names.
    assert.ok((r.error.fields ?? []).length <= 10);
    assert.doesNotMatch(JSON.stringify(r.error.fields ?? []), /xxxxxxxx|OR 1=1|passwd|polluted|isAdmin|nothing|extra|more/);
  }
});

test(`${unknownNames.length} unknown or hostile call names get UNKNOWN_CALL`, async () => {
  for (const name of unknownNames) {
    const r = await dispatch(registry, name, { query: 'a' }, APP, options);
    assert.deepEqual(r.ok ? null : r.error.code, 'UNKNOWN_CALL', String(name));
  }
});

test('callers from another origin, a subframe, or an unparseable URL are refused before parsing', async () => {
  const strangers: Caller[] = [
    { url: 'https://evil.example/index.html', isMainFrame: true },
    { url: 'file:///etc/passwd', isMainFrame: true },
    { url: 'app://clinician.evil/index.html', isMainFrame: true },
    { url: 'http://localhost:1234/', isMainFrame: true },
    { url: `${ORIGIN}/index.html`, isMainFrame: false },
    { url: 'not a url', isMainFrame: true },
    { url: '', isMainFrame: true },
    { url: 'data:text/html,hi', isMainFrame: true },
  ];
  for (const caller of strangers) {
    const r = await dispatch(registry, 'patients.search', { query: patient.family }, caller, options);
    assert.deepEqual(r.ok ? null : r.error.code, 'FORBIDDEN_SENDER', caller.url);
  }
});

test('after the junk, nothing was stored or audited, no prototype is polluted, and a good call works', async () => {
  const before = JSON.stringify(await cacheStats(cache.session));
  for (const [name, payload] of malformed) await dispatch(registry, name, payload, APP, options);
  assert.equal(JSON.stringify(await cacheStats(cache.session)), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  const good = await dispatch(registry, 'patients.search', { query: patient.family.slice(0, 5) }, APP, options);
  assert.ok(good.ok);
  assert.equal((good.value as { patients: Array<{ id: string }> }).patients[0]!.id, patient.id);
  const s = cache.session;
  assert.equal(verifyAuditChain(await cache.db(), s.keys.publicKey, s.context.deviceId).ok, true);
});

test('a failure inside a handler comes back as a typed error, never as an exception', async () => {
  const broken = { ...registry, 'patients.search': () => { throw new Error(`secret ${patient.family}`); } } as HandlerRegistry;
  const seen: string[] = [];
  const r = await dispatch(broken, 'patients.search', { query: 'a' }, APP, { ...options, onInternalError: (n) => seen.push(n) });
  assert.deepEqual(r, { ok: false, error: { code: 'INTERNAL', message: 'An unexpected error occurred. The action was not completed.' } });
  assert.deepEqual(seen, ['patients.search']);
  const closed = createHandlerRegistry({ session: () => null, problem: () => null, actor: () => null });
  const locked = await dispatch(closed, 'chart.open', { patientId: patient.id }, APP, options);
  assert.deepEqual(locked.ok ? null : locked.error.code, 'CACHE_NOT_OPEN');
});

test('the ipcMain binding registers one channel per contract call and describes the sender frame to dispatch', async () => {
  const handlers = new Map<string, (event: unknown, payload: unknown) => Promise<unknown>>();
  const fakeIpcMain = { handle: (channel: string, fn: (event: unknown, payload: unknown) => Promise<unknown>) => handlers.set(channel, fn) };
  bindRegistry(fakeIpcMain as unknown as IpcMain, registry, options);
  assert.deepEqual([...handlers.keys()].sort(), CALL_NAMES.map(ipcChannelFor).sort());
  const search = handlers.get(ipcChannelFor('patients.search'))!;
  const fromApp = { senderFrame: { url: `${ORIGIN}/index.html`, parent: null } };
  const fromSubframe = { senderFrame: { url: `${ORIGIN}/index.html`, parent: {} } };
  const fromElsewhere = { senderFrame: { url: 'https://evil.example/', parent: null } };
  const destroyedFrame = { senderFrame: null };
  const ok = (await search(fromApp, { query: patient.family })) as Result<{ patients: unknown[] }>;
  assert.ok(ok.ok && ok.value.patients.length === 1);
  for (const event of [fromSubframe, fromElsewhere, destroyedFrame]) {
    const r = (await search(event, { query: patient.family })) as Result<unknown>;
    assert.deepEqual(r.ok ? null : r.error.code, 'FORBIDDEN_SENDER');
  }
  assert.deepEqual(((await search(fromApp, { query: 7 })) as Result<unknown>).ok, false);
});
