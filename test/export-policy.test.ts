/**
 * IT's export and screen-capture policy from the one settings catalogue:
 * by default paper and PDF (watermarked) are allowed and a FHIR file is not,
 * and the window is protected from capture; `none` turns export and print
 * off; a list allows exactly what it names; a value that cannot be right is
 * refused (named, never echoed) and the safest value used: nothing leaves,
 * protection stays on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveSettings } from '../electron/services/policy/effective-settings';
import type { PolicyReading } from '../electron/services/policy/policy-reader';
import { exportPolicyOf, parseExportFormats } from '../electron/services/export/export-policy';

function reading(values: Record<string, unknown>): PolicyReading {
  return { values, source: 'test policy', present: true, problems: [] };
}
const policyOf = (values: Record<string, unknown>) => {
  const settings = effectiveSettings({ policy: reading(values) });
  return { policy: exportPolicyOf(settings), problems: [...settings.values()].flatMap((s) => (s.problem ? [s.problem] : [])) };
};

test('no policy: printer and PDF allowed, FHIR file not; content protection on', () => {
  assert.deepEqual(policyOf({}), { policy: { formats: ['pdf', 'printer'], screenCaptureProtection: true }, problems: [] });
});

test('a list allows exactly what it names, in a fixed order; none allows nothing', () => {
  assert.deepEqual(policyOf({ exportFormats: 'printer, fhir-json' }).policy.formats, ['fhir-json', 'printer']);
  assert.deepEqual(policyOf({ exportFormats: 'fhir-json,pdf,printer' }).policy.formats, ['fhir-json', 'pdf', 'printer']);
  assert.deepEqual(policyOf({ exportFormats: 'printer' }).policy.formats, ['printer']);
  assert.deepEqual(policyOf({ exportFormats: 'none' }).policy.formats, []);
  assert.deepEqual(parseExportFormats('none'), []);
});

test('IT may turn content protection off', () => {
  assert.equal(policyOf({ screenCaptureProtection: false }).policy.screenCaptureProtection, false);
});

test('a value that cannot be right is refused, named without its value, and the safest used: nothing leaves, protection on', () => {
  for (const bad of ['pdf,usb-stick', 'pdf,pdf', '', 'all', 'printer;pdf', 42, ['pdf'], true]) {
    const { policy, problems } = policyOf({ exportFormats: bad, screenCaptureProtection: 'no' });
    assert.deepEqual(policy, { formats: [], screenCaptureProtection: true }, JSON.stringify(bad));
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^Export and print formats \(exportFormats\) .*; the safest value is used\.$/);
    if (typeof bad === 'string' && bad.length > 3) assert.ok(!problems[0]!.includes(bad), 'the value is never echoed');
    assert.match(problems[1]!, /^Screen-capture protection \(screenCaptureProtection\) must be On or Off/);
  }
});
