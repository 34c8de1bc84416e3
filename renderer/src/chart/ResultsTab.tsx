/**
 * The Results tab: the vitals flowsheet, laboratory results with their
 * reference ranges and flags, and the other observations (surveys, scores),
 * from the newest observations chart.results answered; says so when older
 * ones are not shown.
 */
import type { FhirResource } from '../../../shared/contract';
import { isLaboratory, isVitalSign } from '../fhir-format';
import { LabResults } from './LabResults';
import { isCodeStatus } from './patient-facts';
import { Section } from './Section';
import { VitalsFlowsheet } from './VitalsFlowsheet';
import type { Reading } from './vital-signs';

interface Props {
  observations: FhirResource[];
  /** How many observations the patient has on this computer (`observations` holds the newest of them). */
  total: number;
  readings: Map<string, Reading[]>;
  now: Date;
  adult: boolean;
}

export function ResultsTab({ observations, total, readings, now, adult }: Props) {
  const labs = observations.filter(isLaboratory);
  const other = observations.filter((o) => !isLaboratory(o) && !isVitalSign(o) && !isCodeStatus(o));
  return (
    <div className="results-stack">
      {total > observations.length && (
        <p className="muted" data-testid="results-window">
          Showing the newest {observations.length} of {total} observations on this computer.
        </p>
      )}
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
