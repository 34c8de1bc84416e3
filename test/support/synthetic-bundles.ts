/** Synthetic FHIR bundles with predictable ids, for crash and benchmark workloads. No real PHI. */

export interface SyntheticOptions {
  patientId: string;
  observations: number;
  /** Spread the observations' dates over this many days before 2026-01-01. */
  days?: number;
}

export function syntheticPatientBundle({ patientId, observations, days = 365 }: SyntheticOptions): Record<string, unknown> {
  const entry: unknown[] = [
    {
      fullUrl: `urn:uuid:${patientId}`,
      resource: {
        resourceType: 'Patient',
        id: patientId,
        name: [{ use: 'official', family: `Testfamily${patientId.slice(-4)}`, given: ['Synthetic'] }],
        identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: `MRN-${patientId}` }],
        gender: 'unknown',
        birthDate: '1970-01-01',
      },
      request: { method: 'POST', url: 'Patient' },
    },
  ];
  const base = Date.UTC(2026, 0, 1);
  for (let j = 0; j < observations; j++) {
    entry.push({
      fullUrl: `urn:uuid:${patientId}-o${j}`,
      resource: {
        resourceType: 'Observation',
        id: `${patientId}-o${j}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
        subject: { reference: `urn:uuid:${patientId}` },
        effectiveDateTime: new Date(base - ((j * 7919) % (days * 86400)) * 1000).toISOString(),
        valueQuantity: { value: 60 + (j % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
        note: [{ text: 'Synthetic observation for load testing. '.repeat(16) }],
      },
      request: { method: 'POST', url: 'Observation' },
    });
  }
  return { resourceType: 'Bundle', type: 'batch', entry };
}
