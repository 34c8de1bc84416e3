/**
 * Break the glass against the real backend process (SQLite and PostgreSQL),
 * configured by its admin commands as IT would: the policy key
 * breakGlassMinutes sets the grant's length, a restricted search and a grant
 * over HTTP, the granted patient's records and the active grants, the
 * server audit chain still whole (audit-verify), and nothing of the search
 * text, the reason, a handle or a patient id in what the process logs.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheSession } from '../electron/services/cache-session';
import { GLASS_GRANTS_PATH, GLASS_SEARCH_PATH, glassActiveReplySchema, glassGrantReplySchema, glassRecordsPath, glassRecordsReplySchema, glassSearchReplySchema } from '../shared/glass-api';
import { startBackend, type BackendProcess } from './support/backend-process';
import { registerDeviceAt } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const PATIENT = 'glp-target';
const REASON_TEXT = 'Collapsed in the corridor outside ward nine';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`break the glass against the backend process on ${engine}`, () => {
    const dir = scratchDir('glass-process');
    let backend: BackendProcess;
    let token = '';

    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(backend.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: r.status, json: (await r.json()) as unknown };
    };

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const id of [PATIENT, 'glp-own']) writeFileSync(join(bundles, `${id}.json`), JSON.stringify(syntheticPatientBundle({ patientId: id, observations: 5 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['http://localhost'], engine, bundles: [bundles] });
      backend.admin(['add-clinician', 'dr.proc', '--name', 'Dr Process']);
      const { publicKey } = generateKeyPairSync('ed25519');
      token = await registerDeviceAt(backend, 'dr.proc', { profile: { profileId: randomUUID() }, keys: { publicKey } } as unknown as CacheSession);
    });

    after(async () => {
      await backend?.dispose();
      dir.remove();
    });

    test('IT sets breakGlassMinutes; a search, a grant of that length, the records and the active grants; the chain stays whole and the logs say nothing of it', async () => {
      assert.match(backend.admin(['set-policy', 'breakGlassMinutes', '15']), /"breakGlassMinutes":15/);
      assert.throws(() => backend.admin(['set-policy', 'breakGlassMinutes', '5']), 'below 15 minutes is refused');
      assert.throws(() => backend.admin(['set-policy', 'breakGlassMinutes', '1441']), 'above a day is refused');

      const found = await call('POST', GLASS_SEARCH_PATH, { query: `Testfamily${PATIENT.slice(-4)}` });
      assert.equal(found.status, 200);
      const [match] = glassSearchReplySchema.parse(found.json).matches;
      assert.ok(match);
      const before = Date.now();
      const granted = await call('POST', GLASS_GRANTS_PATH, { handle: match.handle, reason: { code: 'other', text: REASON_TEXT } });
      assert.equal(granted.status, 200, JSON.stringify(granted.json));
      const grant = glassGrantReplySchema.parse(granted.json);
      assert.equal(grant.patientId, PATIENT);
      assert.ok(Math.abs(Date.parse(grant.expiresAt) - (before + 15 * 60_000)) < 10_000, 'the grant lasts the policy\'s 15 minutes');

      const page = glassRecordsReplySchema.parse((await call('GET', glassRecordsPath(PATIENT))).json);
      assert.equal(page.resources.length, 6);
      assert.deepEqual(glassActiveReplySchema.parse((await call('GET', GLASS_GRANTS_PATH)).json).grants, [grant]);

      assert.match(backend.admin(['audit-verify']), /server audit chain whole/);
      const logs = backend.output();
      for (const secret of [match.handle, REASON_TEXT, PATIENT, 'Testfamily']) assert.ok(!logs.includes(secret), 'the process logs nothing of the search, the reason, the handle or the patient');
    });
  });
}
