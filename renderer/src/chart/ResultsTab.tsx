/**
 * The Results tab: the vitals flowsheet, laboratory results with their
 * reference ranges and flags, and the other observations (surveys, scores).
 */
import type { FhirResource } from '../../../shared/contract';
import { isLaboratory, isVitalSign } from '../fhir-format';
import { LabResults } from './LabResults';
import { isCodeStatus } from './patient-facts';
import { Section } from './Section';
import { VitalsFlowsheet } from './VitalsFlowsheet';
import type { Reading } from './vital-signs';

export function ResultsTab({ observations, readings, now, adult }: { observations: FhirResource[]; readings: Map<string, Reading[]>; now: Date; adult: boolean }) {
  const labs = observations.filter(isLaboratory);
  const other = observations.filter((o) => !isLaboratory(o) && !isVitalSign(o) && !isCodeStatus(o));
  return (
    <div className="results-stack">
      <Section title="Vital signs" testId="vitals-flowsheet">
        <VitalsFlowsheet readings={readings} now={now} adult={adult} />
      </Section>
      <Section title="Laboratory results" count={labs.length} testId="labs">
        <LabResults results={labs} now={now} testId="lab-table" label="Laboratory results" empty="No laboratory results on this computer." />
      </Section>
      <Section title="Other observations" count={other.length} testId="other-observations">
        <LabResults results={other} now={now} testId="other-table" label="Other observations" empty="No other observations." />
      </Section>
    </div>
  );
}
