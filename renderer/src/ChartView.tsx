/**
 * One patient's chart: demographics, allergies, problems, medications, latest
 * vitals, observations, encounters, immunizations, procedures, reports and
 * care plans, and who accessed this record on this device. Data comes only
 * from chart.open (audited in main) and is dropped when the chart closes.
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { AuditEntryView, Chart, FhirResource } from '../../shared/contract';
import { api, call } from './clinician';
import { ProblemList, WritePane } from './charting';
import {
  ageFrom,
  codeOf,
  conceptText,
  field,
  formatDate,
  isVitalSign,
  observationDate,
  observationValue,
  statusText,
} from './fhir-format';

interface Props {
  patientId: string;
  onClose(): void;
}

const VITALS: ReadonlyArray<{ label: string; codes: string[] }> = [
  { label: 'Blood pressure', codes: ['85354-9', '55284-4'] },
  { label: 'Heart rate', codes: ['8867-4'] },
  { label: 'Temperature', codes: ['8310-5', '8331-1'] },
  { label: 'Respiratory rate', codes: ['9279-1'] },
  { label: 'SpO₂', codes: ['2708-6', '59408-5'] },
  { label: 'Weight', codes: ['29463-7'] },
  { label: 'Height', codes: ['8302-2'] },
  { label: 'BMI', codes: ['39156-5'] },
];

const ROWS_SHOWN = 25;

function items(chart: Chart, type: string): FhirResource[] {
  return chart.groups[type]?.items ?? [];
}

function Section({ title, count, children, testId }: { title: string; count?: number; children: ReactNode; testId: string }) {
  return (
    <section className="section" aria-labelledby={`${testId}-title`} data-testid={testId}>
      <h2 id={`${testId}-title`}>
        {title}
        {count !== undefined && <span className="count">{count}</span>}
      </h2>
      {children}
    </section>
  );
}

function Rows({ rows, empty, columns }: { rows: FhirResource[]; empty: string; columns: Array<[string, (r: FhirResource) => ReactNode]> }) {
  const [all, setAll] = useState(false);
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  const shown = all ? rows : rows.slice(0, ROWS_SHOWN);
  return (
    <>
      <table className="rows">
        <thead>
          <tr>{columns.map(([h]) => <th key={h} scope="col">{h}</th>)}</tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.id}>{columns.map(([h, cell]) => <td key={h}>{cell(r)}</td>)}</tr>
          ))}
        </tbody>
      </table>
      {rows.length > shown.length && (
        <button type="button" className="link" onClick={() => setAll(true)}>Show all {rows.length}</button>
      )}
    </>
  );
}

function LatestVitals({ observations }: { observations: FhirResource[] }) {
  const vitals = observations.filter(isVitalSign);
  const tiles = VITALS.map(({ label, codes }) => {
    const latest = vitals.find((o) => {
      const code = codeOf((o as Record<string, unknown>).code);
      return code !== null && codes.includes(code);
    });
    return { label, latest };
  }).filter((t) => t.latest);
  if (tiles.length === 0) return <p className="muted">No vital signs recorded.</p>;
  return (
    <div className="vitals">
      {tiles.map(({ label, latest }) => (
        <div className="vital" key={label} data-testid="vital">
          <span className="vital-label">{label}</span>
          <span className="vital-value">{observationValue(latest!)}</span>
          <span className="vital-date">{formatDate(observationDate(latest!))}</span>
        </div>
      ))}
    </div>
  );
}

export function ChartView({ patientId, onClose }: Props) {
  const [chart, setChart] = useState<Chart | null>(null);
  const [trail, setTrail] = useState<AuditEntryView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [revision, setRevision] = useState(0);

  useEffect(() => {
    let cancelled = false;
    call(api().chart.open({ patientId }))
      .then((c) => {
        if (cancelled) return;
        setChart(c);
        return call(api().audit.forPatient({ patientId, limit: 20 })).then((t) => !cancelled && setTrail(t.entries));
      })
      .catch((err: Error) => !cancelled && setError(err.message));
    return () => {
      cancelled = true;
    };
  }, [patientId, revision]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!chart) return <p className="muted">Opening chart…</p>;

  const p = chart.patient as Record<string, unknown>;
  const { summary } = chart;
  const observations = items(chart, 'Observation');

  return (
    <article className="chart" data-testid="chart">
      <header className="demographics">
        <div>
          <h1 data-testid="chart-name">{summary.name}</h1>
          <p className="demo-line">
            <span>Born {formatDate(summary.birthDate)} ({ageFrom(summary.birthDate)})</span>
            <span>{summary.gender ?? '—'}</span>
            <span data-testid="chart-mrn">MRN {summary.mrn ?? '—'}</span>
            {p.deceasedDateTime ? <span className="pill pill-bad">Deceased {formatDate(p.deceasedDateTime)}</span> : null}
          </p>
        </div>
        <button type="button" className="close" onClick={onClose} aria-label="Close chart (Esc)">Close</button>
      </header>

      <div className="chart-grid">
        <WritePane patientId={patientId} chart={chart} onSaved={() => setRevision((r) => r + 1)} onOpenTab={() => undefined} />

        <Section title="Notes" count={chart.groups.Composition?.total ?? 0} testId="notes">
          <Rows
            rows={items(chart, 'Composition')}
            empty="No notes on this computer."
            columns={[
              ['Date', (r) => formatDate(r.date, true)],
              ['Note', (r) => (typeof r.title === 'string' ? r.title : 'Note')],
              ['Status', (r) => (r.status === 'final' ? 'signed' : 'draft')],
              ['Author', (r) => (typeof field(r, 'author.display') === 'string' ? (field(r, 'author.display') as string) : '—')],
            ]}
          />
        </Section>

        <Section title="Allergies" count={chart.groups.AllergyIntolerance?.total ?? 0} testId="allergies">
          <Rows
            rows={items(chart, 'AllergyIntolerance')}
            empty="No allergies recorded."
            columns={[
              ['Substance', (r) => conceptText(r.code)],
              ['Criticality', (r) => (typeof r.criticality === 'string' ? r.criticality : '—')],
              ['Status', (r) => statusText(r.clinicalStatus)],
            ]}
          />
        </Section>

        <Section title="Problems" count={chart.groups.Condition?.total ?? 0} testId="problems">
          <ProblemList patientId={patientId} conditions={items(chart, 'Condition')} onSaved={() => setRevision((r) => r + 1)} />
        </Section>

        <Section title="Medications" count={chart.groups.MedicationRequest?.total ?? 0} testId="medications">
          <Rows
            rows={items(chart, 'MedicationRequest')}
            empty="No medications recorded."
            columns={[
              ['Medication', (r) => conceptText(r.medicationCodeableConcept)],
              ['Status', (r) => (typeof r.status === 'string' ? r.status : '—')],
              ['Ordered', (r) => formatDate(r.authoredOn)],
            ]}
          />
        </Section>

        <Section title="Latest vitals" testId="vitals">
          <LatestVitals observations={observations} />
        </Section>

        <Section title="Observations" count={chart.groups.Observation?.total ?? 0} testId="observations">
          <Rows
            rows={observations}
            empty="No observations recorded."
            columns={[
              ['Date', (r) => formatDate(observationDate(r))],
              ['Observation', (r) => conceptText(r.code)],
              ['Value', (r) => observationValue(r)],
            ]}
          />
        </Section>

        <Section title="Encounters" count={chart.groups.Encounter?.total ?? 0} testId="encounters">
          <Rows
            rows={items(chart, 'Encounter')}
            empty="No encounters recorded."
            columns={[
              ['Date', (r) => formatDate(field(r, 'period.start'), true)],
              ['Type', (r) => conceptText(field(r, 'type'))],
              ['Class', (r) => (typeof field(r, 'class.code') === 'string' ? (field(r, 'class.code') as string) : '—')],
            ]}
          />
        </Section>

        <Section title="Immunizations" count={chart.groups.Immunization?.total ?? 0} testId="immunizations">
          <Rows
            rows={items(chart, 'Immunization')}
            empty="No immunizations recorded."
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
            columns={[
              ['Kind', (r) => r.resourceType.replace(/([a-z])([A-Z])/g, '$1 $2')],
              ['What', (r) => conceptText(r.code ?? field(r, 'category'))],
              ['Date', (r) => formatDate(field(r, 'performedPeriod.start') ?? r.performedDateTime ?? r.effectiveDateTime ?? field(r, 'period.start'))],
            ]}
          />
        </Section>

        <Section title="Access to this record on this computer" testId="access-log">
          {trail.length === 0 ? (
            <p className="muted">No access recorded.</p>
          ) : (
            <table className="rows">
              <thead>
                <tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Outcome</th></tr>
              </thead>
              <tbody>
                {trail.map((e) => (
                  <tr key={e.seq} data-testid="access-entry">
                    <td>{formatDate(e.recordedAt, true)}</td>
                    <td>{e.actor}</td>
                    <td>{e.subtype}</td>
                    <td>{e.outcome === '0' ? 'success' : 'failed'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      </div>
    </article>
  );
}
