/**
 * The Synthea fixture bundles from ../shared and the PHI strings in them
 * (names, MRNs, SSNs, birth dates, phone numbers, street lines) that must
 * never show up outside the encrypted cache.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SYNTHEA_DIR = resolve(process.env.CLINICIAN_TEST_ROOT ?? process.cwd(), '..', 'shared', 'fixtures', 'synthea');

export const SYNTHEA_FILES = readdirSync(SYNTHEA_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => join(SYNTHEA_DIR, f));

export interface FixturePatient {
  id: string;
  given: string;
  family: string;
  birthDate: string;
  mrn: string;
  ssn: string;
  resourceCount: number;
  bundle: { entry: Array<{ fullUrl: string; resource: Record<string, unknown> & { resourceType: string; id: string } }> };
}

interface RawPatient {
  id: string;
  name: Array<{ given: string[]; family: string }>;
  birthDate: string;
  identifier: Array<{ type?: { coding?: Array<{ code?: string }> }; value: string }>;
  telecom?: Array<{ value: string }>;
  address?: Array<{ line?: string[] }>;
}

function rawPatient(bundle: FixturePatient['bundle']): RawPatient {
  return bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource as unknown as RawPatient;
}

export function loadFixturePatients(): FixturePatient[] {
  return SYNTHEA_FILES.map((file) => {
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as FixturePatient['bundle'];
    const patient = rawPatient(bundle);
    const idOf = (code: string) => patient.identifier.find((i) => i.type?.coding?.[0]?.code === code)!.value;
    return {
      id: patient.id,
      given: patient.name[0]!.given[0]!,
      family: patient.name[0]!.family,
      birthDate: patient.birthDate,
      mrn: idOf('MR'),
      ssn: idOf('SS'),
      resourceCount: bundle.entry.length,
      bundle,
    };
  });
}

/** Strings that identify a patient; any of them in a file or an output is a leak. */
export function phiNeedles(patients: FixturePatient[]): string[] {
  const needles: string[] = [];
  for (const p of patients) {
    const raw = rawPatient(p.bundle);
    needles.push(p.given, p.family, p.mrn, p.ssn, p.birthDate, p.ssn.replace(/-/g, ''));
    for (const t of raw.telecom ?? []) needles.push(t.value);
    for (const a of raw.address ?? []) needles.push(...(a.line ?? []));
  }
  return [...new Set(needles.filter((n) => typeof n === 'string' && n.length >= 6))];
}

/** Which needles occur in `bytes` (as UTF-8 or UTF-16LE, any case for letters). */
export function findLeaks(bytes: Buffer, needles: string[]): string[] {
  const latin = bytes.toString('latin1').toLowerCase();
  const utf16 = bytes.toString('utf16le').toLowerCase();
  return needles.filter((n) => latin.includes(n.toLowerCase()) || utf16.includes(n.toLowerCase()));
}
