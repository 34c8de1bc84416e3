/**
 * The chart's first tab: latest vitals (flagged, with their age), problems,
 * allergies with reactions, medications with their dosage, then
 * immunizations and procedures. Read-only except the problem list (R2's).
 */
import type { Chart, ChartTab, FhirResource } from '../../../shared/contract';
import { ProblemList } from '../charting';
import { conceptText, field, formatDate } from '../fhir-format';
import { AllergyList } from './AllergyList';
import { LatestVitals } from './LatestVitals';
import { MedicationList } from './MedicationList';
import { Rows, Section } from './Section';
import type { Reading } from './vital-signs';

interface Props {
  patientId: string;
  chart: Chart;
  readings: Map<string, Reading[]>;
  now: Date;
  onSaved(): void;
  onOpenTab(tab: ChartTab): void;
}

function items(chart: Chart, type: string): FhirResource[] {
  return chart.groups[type]?.items ?? [];
}

export function SummaryTab({ patientId, chart, readings, now, onSaved, onOpenTab }: Props) {
  return (
    <div className="summary-grid">
      <Section title="Latest vitals" testId="vitals" className="span-all">
        <LatestVitals readings={readings} now={now} />
        <button type="button" className="link" onClick={() => onOpenTab('results')}>Vitals flowsheet and lab results</button>
      </Section>

      <Section title="Problems" count={chart.groups.Condition?.total ?? 0} testId="problems">
        <ProblemList patientId={patientId} conditions={items(chart, 'Condition')} onSaved={onSaved} />
      </Section>

      <Section title="Allergies" count={chart.groups.AllergyIntolerance?.total ?? 0} testId="allergies">
        <AllergyList allergies={items(chart, 'AllergyIntolerance')} />
      </Section>

      <Section title="Medications" count={chart.groups.MedicationRequest?.total ?? 0} testId="medications">
        <MedicationList requests={items(chart, 'MedicationRequest')} />
      </Section>

      <Section title="Immunizations" count={chart.groups.Immunization?.total ?? 0} testId="immunizations">
        <Rows
          rows={items(chart, 'Immunization')}
          empty="No immunizations recorded."
          label="Immunizations"
          columns={[
            ['Date', (r) => formatDate(r.occurrenceDateTime)],
            ['Vaccine', (r) => conceptText(r.vaccineCode)],
          ]}
        />
      </Section>

      <Section title="Procedures and reports" testId="procedures">
        <Rows
          rows={[...items(chart, 'Procedure'), ...items(chart, 'DiagnosticReport'), ...items(chart, 'CarePlan')]}
          empty="No procedures, reports or care plans recorded."
          label="Procedures and reports"
          columns={[
            ['Kind', (r) => (r.resourceType === 'DiagnosticReport' ? 'Report' : r.resourceType === 'CarePlan' ? 'Care plan' : 'Procedure')],
            ['What', (r) => conceptText(r.code ?? field(r, 'category'))],
            ['Date', (r) => formatDate(field(r, 'performedPeriod.start') ?? r.performedDateTime ?? r.effectiveDateTime ?? field(r, 'period.start'))],
          ]}
        />
      </Section>
    </div>
  );
}
