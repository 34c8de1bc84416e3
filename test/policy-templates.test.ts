/**
 * The ADMX/ADML templates, the .mobileconfig example and the README settings
 * table are generated from the one settings catalogue: the committed files
 * equal what the generator writes now (so they cannot drift), the XML
 * parses and names every machine policy with the right element, the
 * profile parses with plist and forces every setting, and the README's
 * table lists every setting with its policy name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { parse } from 'plist';
import { policyTemplateFiles } from '../electron/services/policy/policy-templates';
import { SETTINGS_CATALOGUE, WINDOWS_POLICY_KEY, MACOS_POLICY_DOMAIN } from '../electron/services/policy/settings-catalogue';

const ROOT = join(import.meta.dirname, '..');
const machine = SETTINGS_CATALOGUE.filter((s) => s.from.includes('policy'));

function parseXml(text: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, message) => void (level !== 'warning' && errors.push(message)) }).parseFromString(text, 'text/xml');
  assert.deepEqual(errors, []);
  return doc;
}

function elements(root: { getElementsByTagName(name: string): ArrayLike<Element> }, name: string): Element[] {
  return Array.from(root.getElementsByTagName(name));
}

test('the committed templates and table equal what the generator writes now', () => {
  for (const [name, text] of Object.entries(policyTemplateFiles())) {
    assert.equal(readFileSync(join(ROOT, 'build', 'policy', name), 'utf8'), text, `build/policy/${name} is stale: run npm run policy-templates`);
  }
});

test('the ADMX parses and holds one machine policy per setting, with the right element, under the policy key', () => {
  const doc = parseXml(policyTemplateFiles()['ClinicianDesktop.admx']!);
  const policies = elements(doc, 'policy');
  assert.deepEqual(policies.map((p) => p.getAttribute('name')).sort(), machine.map((s) => s.name).sort());
  for (const s of machine) {
    const p = policies.find((e) => e.getAttribute('name') === s.name)!;
    assert.equal(p.getAttribute('class'), 'Machine');
    assert.equal(p.getAttribute('key'), WINDOWS_POLICY_KEY);
    assert.equal(elements(p, 'parentCategory')[0]?.getAttribute('ref'), 'ClinicianDesktop');
    if (s.type === 'boolean') {
      assert.equal(p.getAttribute('valueName'), s.name);
      assert.equal(elements(p, 'enabledValue').length, 1);
    } else if (s.type === 'string') {
      assert.equal(elements(p, 'text')[0]?.getAttribute('valueName'), s.name);
      assert.equal(elements(p, 'text')[0]?.getAttribute('maxLength'), String(s.maxLength));
    } else if (s.type === 'enum') {
      const values = elements(p, 'string').map((e) => e.textContent);
      assert.deepEqual(values, [...s.values]);
    } else {
      const n = elements(p, 'longDecimal')[0]!;
      assert.equal(n.getAttribute('minValue'), String(s.min));
      assert.equal(n.getAttribute('maxValue'), String(s.max));
    }
  }
});

test('the en-US ADML parses and names every policy, its explanation and presentation', () => {
  const doc = parseXml(policyTemplateFiles()['en-US/ClinicianDesktop.adml']!);
  const strings = new Map(elements(doc, 'string').map((e) => [e.getAttribute('id'), e.textContent ?? '']));
  const presentations = new Set(elements(doc, 'presentation').map((e) => e.getAttribute('id')));
  const admx = policyTemplateFiles()['ClinicianDesktop.admx']!;
  for (const id of admx.matchAll(/\$\(string\.([A-Za-z0-9_]+)\)/g)) assert.ok(strings.has(id[1]!), `ADML lacks string ${id[1]}`);
  for (const id of admx.matchAll(/\$\(presentation\.([A-Za-z0-9_]+)\)/g)) assert.ok(presentations.has(id[1]!), `ADML lacks presentation ${id[1]}`);
  for (const s of machine) {
    assert.equal(strings.get(s.name), s.label);
    assert.match(strings.get(`${s.name}_Explain`)!, new RegExp(`Policy name: ${s.name}\\.`));
  }
});

test('the .mobileconfig parses with plist and forces every setting for the app bundle id', () => {
  const profile = parse(policyTemplateFiles()['ClinicianDesktop.mobileconfig']!) as Record<string, unknown>;
  assert.equal(profile.PayloadType, 'Configuration');
  assert.equal(profile.PayloadScope, 'System');
  const payload = (profile.PayloadContent as Array<Record<string, unknown>>)[0]!;
  assert.equal(payload.PayloadType, MACOS_POLICY_DOMAIN);
  assert.equal(MACOS_POLICY_DOMAIN, 'org.clinician-desktop.app');
  for (const s of machine) {
    const value = payload[s.name];
    const expected = s.type === 'enum' ? 'string' : s.type;
    assert.equal(typeof value, expected, s.name);
  }
});

test("every catalogue setting is in the README's settings table with its policy name (fails until the lead merges the table)", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = policyTemplateFiles()['settings-table.md']!;
  for (const row of table.trim().split('\n').slice(2)) {
    const name = /^\| `([A-Za-z]+)` \|/.exec(row)?.[1];
    assert.ok(name);
    assert.ok(readme.includes(row), `README lacks the row for ${name}`);
  }
  assert.equal(table.trim().split('\n').length - 2, SETTINGS_CATALOGUE.length);
});
