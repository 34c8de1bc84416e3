/**
 * The chart's human words and flags as pure functions: SNOMED semantic tags
 * stripped, statuses, encounter classes and dosage timing in words, ages and
 * "how long ago", lab flags from interpretation or range, vital flags from
 * the adult ranges (worse of systolic and diastolic), the banner's allergy
 * line, and conflict fields named in words. The browser test
 * (test/browser/chart-summary.browser.test.ts) shows them on screen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { FhirResource } from '../shared/contract';
import { ageFrom, agoText, cleanDisplay, conceptText, encounterClassWords, frequencyText, isOld, shortLabel, statusWords, dosageOf } from '../renderer/src/fhir-format';
import { rangeText, resultFlag } from '../renderer/src/chart/lab-flags';
import { vitalReadings } from '../renderer/src/chart/vital-signs';
import { allergyStatus, codeStatus } from '../renderer/src/chart/patient-facts';
import { conflictRows } from '../renderer/src/conflict-fields';

const bundle = JSON.parse(readFileSync('test/fixtures/critical-patient.json', 'utf8')) as { entry: Array<{ resource: FhirResource }> };
const of = (type: string) => bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === type);

test('display names lose their SNOMED semantic tags; coded values read by their display', () => {
  assert.equal(cleanDisplay('Sepsis (disorder)'), 'Sepsis');
  assert.equal(cleanDisplay('Fever (finding)'), 'Fever');
  assert.equal(cleanDisplay('Oral route (qualifier value)'), 'Oral route');
  assert.equal(cleanDisplay('Hepatitis C (viral) antibody'), 'Hepatitis C (viral) antibody', 'only a trailing tag is a tag');
  assert.equal(conceptText({ text: 'Negative (qualifier value)' }), 'Negative');
  assert.equal(conceptText({ coding: [{ code: 'x', display: 'Penicillin (substance)' }] }), 'Penicillin');
  assert.equal(shortLabel({ coding: [{ code: '2823-3' }], text: 'Potassium [Moles/volume] in Serum or Plasma' }), 'Potassium');
  assert.equal(shortLabel({ coding: [{ code: '0000-0' }], text: 'Magnesium [Mass/volume] in Serum or Plasma' }), 'Magnesium in Serum or Plasma');
});

test('statuses, encounter classes, dosage and ages in words', () => {
  assert.equal(statusWords('on-hold'), 'On hold');
  assert.equal(statusWords({ coding: [{ code: 'resolved' }] }), 'Resolved');
  assert.equal(encounterClassWords({ code: 'AMB' }), 'Outpatient visit');
  assert.equal(encounterClassWords({ code: 'IMP' }), 'Inpatient stay');
  assert.equal(encounterClassWords({ code: 'EMER' }), 'Emergency');
  assert.equal(encounterClassWords({ code: 'HH' }), 'Home visit');
  assert.equal(encounterClassWords({ code: 'VR' }), 'Virtual');
  assert.equal(frequencyText({ repeat: { frequency: 2, period: 1, periodUnit: 'd' } }), 'twice daily');
  assert.equal(frequencyText({ repeat: { frequency: 1, period: 8, periodUnit: 'h' } }), 'every 8 hours');
  const meropenem = of('MedicationRequest')[0]!;
  assert.deepEqual(dosageOf(meropenem), { text: '1 g intravenously every 8 hours', dose: '1 g', route: 'Intravenous', frequency: 'every 8 hours', asNeeded: false });
  const now = new Date('2026-11-25T18:00:00Z');
  assert.equal(ageFrom('1958-03-14', now), '68 y');
  assert.equal(ageFrom('2025-09-10', now), '14 mo', 'infants in months');
  assert.equal(agoText('2026-11-25T14:20:00Z', now), '3 h ago');
  assert.equal(agoText('2020-06-10T09:10:00Z', now), '6 years ago');
  assert.equal(isOld('2026-10-20T00:00:00Z', now), true);
  assert.equal(isOld('2026-11-20T00:00:00Z', now), false);
});

test('vitals flag against adult ranges (blood pressure by the worse part); never for a child', () => {
  const readings = vitalReadings(of('Observation'), true);
  const latest = (k: string) => readings.get(k)![0]!;
  assert.equal(latest('bp').text, '182/110 mmHg');
  assert.equal(latest('bp').flag, 'critical-high');
  assert.equal(latest('heartRate').flag, 'critical-high');
  assert.equal(latest('temperature').flag, 'critical-high');
  assert.equal(latest('spo2').flag, 'critical-low');
  assert.equal(readings.get('bp')![3]!.flag, 'high', '150/92');
  assert.equal(latest('weight').flag, null, 'no adult range: unflagged, not normal');
  const child = vitalReadings(of('Observation'), false);
  assert.equal(child.get('heartRate')![0]!.flag, null);
});

test('labs flag from their interpretation, else from their reference range; the range reads as the record gives it', () => {
  const labs = of('Observation').filter((o) => JSON.stringify(o.category).includes('laboratory'));
  const lab = (code: string) => labs.find((o) => JSON.stringify(o.code).includes(`"${code}"`))!;
  assert.deepEqual(resultFlag(lab('2823-3')), { flag: 'high', from: 'interpretation' });
  assert.equal(rangeText(lab('2823-3')), '3.5–5.1 mmol/L');
  assert.deepEqual(resultFlag(lab('2160-0')), { flag: 'high', from: 'range' });
  assert.deepEqual(resultFlag(lab('2524-7')), { flag: 'critical-high', from: 'interpretation' });
  assert.equal(rangeText(lab('4548-4')), '≤ 5.7 %');
  assert.deepEqual(resultFlag({ resourceType: 'Observation', id: 'x', valueQuantity: { value: 3 } }), { flag: null, from: null });
});

test('the banner: allergies with criticality, reaction and severity; "no known" apart from "not recorded"; code status', () => {
  const status = allergyStatus(of('AllergyIntolerance'));
  assert.equal(status.kind, 'allergies');
  assert.deepEqual(status.allergies.map((a) => a.line), ['Penicillin (high criticality: anaphylaxis, severe)', 'Latex (low criticality: urticaria, mild)']);
  assert.equal(allergyStatus([]).kind, 'not-recorded');
  const nka = { resourceType: 'AllergyIntolerance', id: 'n', code: { coding: [{ system: 'http://snomed.info/sct', code: '716186003', display: 'No known allergy (situation)' }] } };
  assert.equal(allergyStatus([nka]).kind, 'none-known');
  assert.equal(codeStatus(of('Observation'))?.text, 'Do not attempt resuscitation');
});

test('conflict rows name fields and statuses in words, and never show "Patient/…"', () => {
  const base = { resourceType: 'Condition', id: 'c', subject: { reference: 'Patient/crit-patient-0001' }, code: { text: 'Essential hypertension (disorder)' } };
  const rows = conflictRows(
    { ...base, clinicalStatus: { coding: [{ code: 'inactive' }] } } as FhirResource,
    { ...base, clinicalStatus: { coding: [{ code: 'resolved' }] } } as FhirResource,
  );
  const row = (f: string) => rows.find((r) => r.field === f)!;
  assert.deepEqual([row('clinicalStatus').label, row('clinicalStatus').mine, row('clinicalStatus').theirs, row('clinicalStatus').differs], ['Clinical status', 'Inactive', 'Resolved', true]);
  assert.deepEqual([row('subject').label, row('subject').mine], ['Patient', 'This patient']);
  assert.equal(row('code').mine, 'Essential hypertension');
  assert.ok(!JSON.stringify(rows).includes('Patient/'));
});

test('category codes that come without a display read in words in the conflict view, not as "problem-list-item"', () => {
  const category = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }];
  const mine = { resourceType: 'Condition', id: 'c1', category, clinicalStatus: { coding: [{ code: 'active' }] } } as FhirResource;
  const theirs = { ...mine, clinicalStatus: { coding: [{ code: 'resolved' }] } } as FhirResource;
  const row = conflictRows(mine, theirs).find((r) => r.field === 'category')!;
  assert.equal(row.mine, 'Problem list');
  assert.equal(conceptText({ coding: [{ code: 'vital-signs' }] }), 'Vital signs');
  assert.equal(conceptText({ coding: [{ code: 'some-local-code' }] }), 'some-local-code', 'an unknown bare code is still shown rather than hidden');
});
