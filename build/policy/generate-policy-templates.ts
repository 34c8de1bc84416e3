/**
 * Writes the ADMX/ADML templates, the .mobileconfig example and the README
 * settings table into build/policy/ from the settings catalogue
 * (npm run policy-templates). test/policy-templates.test.ts checks the files
 * here equal what this writes, so they cannot drift.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { policyTemplateFiles } from '../../electron/services/policy/policy-templates';

for (const [name, text] of Object.entries(policyTemplateFiles())) {
  const file = join(import.meta.dirname, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote build/policy/${name}`);
}
