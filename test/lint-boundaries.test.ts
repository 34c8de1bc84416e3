/**
 * The import table of ARCHITECTURE.md is enforced by the lint that runs in
 * npm test: these files would each break a boundary, and the lint says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { ROOT } from './support/cache-cli';

const eslint = new ESLint({ cwd: ROOT });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${filePath}` });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

const violations: Array<[string, string, string]> = [
  ['renderer/src/bad.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'no-restricted-imports'],
  ['renderer/src/bad.ts', "import fs from 'fs';\nexport const x = fs;\n", 'no-restricted-imports'],
  ['renderer/src/bad.ts', "import { ipcRenderer } from 'electron';\nexport const x = ipcRenderer;\n", 'no-restricted-imports'],
  ['renderer/src/bad.ts', "import { openChart } from '../../electron/services/patient-records';\nexport const x = openChart;\n", 'import/no-restricted-paths'],
  ['shared/bad.ts', "import { createHash } from 'node:crypto';\nexport const x = createHash;\n", 'no-restricted-imports'],
  ['shared/bad.ts', "import { dispatch } from '../electron/services/handler-registry';\nexport const x = dispatch;\n", 'import/no-restricted-paths'],
  ['electron/services/bad.ts', "import { app } from 'electron';\nexport const x = app;\n", 'no-restricted-imports'],
  ['electron/services/bad.ts', "import { App } from '../../renderer/src/App';\nexport const x = App;\n", 'import/no-restricted-paths'],
];

for (const [file, code, rule] of violations) {
  test(`lint refuses ${file} importing ${code.match(/from '([^']+)'/)![1]}`, async () => {
    assert.ok((await ruleIds(file, code)).includes(rule));
  });
}

test('lint accepts the allowed imports', async () => {
  assert.deepEqual(await ruleIds('renderer/src/ok.ts', "import { z } from 'zod';\nimport type { Chart } from '../../shared/contract';\nexport const x: Chart | null = null;\nexport const y = z;\n"), []);
  assert.deepEqual(await ruleIds('electron/main.ts', "import { app } from 'electron';\nexport const x = app;\n"), []);
});
