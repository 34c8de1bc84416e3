/**
 * The Results tab: the vitals flowsheet, laboratory results with their
 * reference ranges and flags, and the other observations (surveys, scores),
 * from the newest observations chart.results answered (voided readings left
 * out); says so when older ones are not shown, and never says "none" of the
 * whole record from that window.
 */
import type { FhirResource } from '../../../shared/contract';
import { isLaboratory, isVitalSign, isVoided } from '../fhir-format';
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
  // Readings entered in error or cancelled are left out, as from the flowsheet.
  const usable = observations.filter((o) => !isVoided(o));
  const labs = usable.filter(isLaboratory);
  const other = usable.filter((o) => !isLaboratory(o) && !isVitalSign(o) && !isCodeStatus(o));
  // With older observations not read, "none" is only true of the window.
  const windowed = total > observations.length;
  const none = (what: string, recorded: string) => (windowed ? `No ${what} among the newest ${observations.length} observations.` : recorded);
  return (
    <div className="results-stack">
      {windowed && (
        <p className="muted" data-testid="results-window">
          Showing the newest {observations.length} of {total} observations on this computer.
        </p>
      )}
      <Section title="Vital signs" testId="vitals-flowsheet">
        <VitalsFlowsheet readings={readings} now={now} adult={adult} empty={none('vital signs', 'No vital signs recorded.')} />
      </Section>
      <Section title="Laboratory results" count={labs.length} testId="labs">
        <LabResults results={labs} now={now} testId="lab-table" label="Laboratory results" empty={none('laboratory results', 'No laboratory results on this computer.')} />
      </Section>
      <Section title="Other observations" count={other.length} testId="other-observations">
        <LabResults results={other} now={now} testId="other-table" label="Other observations" empty={none('other observations', 'No other observations.')} />
      </Section>
    </div>
  );
}
