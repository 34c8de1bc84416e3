/**
 * The print-only view of a patient's summary, mounted (as a portal on
 * <body>, beside the app's root) only between print.prepare and the end of
 * print.output, from the chart print.prepare read and audited, never the
 * one on screen. On paper or PDF: the patient header, problems, allergies,
 * medications, immunizations, recent vitals, lab results, procedures,
 * encounters and signed notes, and on EVERY page the watermark main gave
 * (clinician, time, "Confidential"): a header and a footer line and a
 * diagonal mark, all position:fixed, which Chromium repeats on every printed
 * page. print.css hides the app shell (search, buttons, dialogs) in print
 * and this view on screen. Never holds the chart after it unmounts; never
 * shows drafts (not part of the record).
 */
import { useEffect, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import type { Chart, FhirResource } from '../../../shared/contract';
import { appendsTo, authorOf, sectionsForReading } from '../charting/note-text';
import { allergyFacts, allergyStatus } from '../chart/patient-facts';
import {
  ageFrom,
  conceptText,
  dosageOf,
  encounterClassWords,
  field,
  formatDate,
  isLaboratory,
  isVitalSign,
  isVoided,
  observationDate,
  observationValue,
  referenceDisplay,
  sexWords,
  statusWords,
} from '../fhir-format';
import './print.css';

export interface Watermark {
  clinician: string;
  at: string;
  label: string;
}

interface Props {
  chart: Chart;
  watermark: Watermark;
  /** Called once the view is in the document and laid out (the print may start). */
  onReady(): void;
}

const WATERMARK_TIME = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });

/** The watermark's time as people read it ("26 Nov 2026, 08:14 UTC"); main's text unchanged if it is not a date. */
export function watermarkTime(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : WATERMARK_TIME.format(d);
}

/** The one watermark line repeated on every page. */
export function watermarkLine(w: Watermark): string {
  return `${w.label || 'Confidential'} · Printed by ${w.clinician} · ${watermarkTime(w.at)}`;
}

function items(chart: Chart, type: string): FhirResource[] {
  return chart.groups[type]?.items ?? [];
}

function byDateDesc(date: (r: FhirResource) => unknown) {
  return (a: FhirResource, b: FhirResource) => String(date(b) ?? '').localeCompare(String(date(a) ?? ''));
}

function PrintSection({ title, chart, type, shown, children }: { title: string; chart: Chart; type?: string; shown?: number; children: ReactNode }) {
  const total = type ? (chart.groups[type]?.total ?? 0) : 0;
  const count = shown ?? (type ? items(chart, type).length : 0);
  return (
    <section className="print-section">
      <h2>{title}</h2>
      {type && total > count && <p className="print-note">{count} of {total} are printed: the newest{type === 'MedicationRequest' ? ', and every current one' : ''}.</p>}
      {children}
    </section>
  );
}

function Table({ head, rows, empty }: { head: string[]; rows: ReactNode[][]; empty: string }) {
  if (rows.length === 0) return <p className="print-note">{empty}</p>;
  return (
    <table className="print-rows">
      <thead>
        <tr>{head.map((h) => <th key={h} scope="col">{h}</th>)}</tr>
      </thead>
      <tbody>
        {rows.map((cells, i) => (
          <tr key={i}>{cells.map((c, j) => <td key={j}>{c}</td>)}</tr>
        ))}
      </tbody>
    </table>
  );
}

function medicationName(r: FhirResource): string {
  if (r.medicationCodeableConcept) return conceptText(r.medicationCodeableConcept);
  return referenceDisplay(r.medicationReference) || 'Medication';
}

function PrintBody({ chart }: { chart: Chart }) {
  const { summary } = chart;
  const observations = items(chart, 'Observation').filter((o) => !isVoided(o));
  // The vitals and labs come from the newest observations only: with older ones not read, "none" is only true of those.
  const read = items(chart, 'Observation').length;
  const windowed = (chart.groups.Observation?.total ?? 0) > read;
  const windowNote = windowed ? <p className="print-note">From the newest {read} of {chart.groups.Observation?.total} observations.</p> : null;
  const none = (what: string) => (windowed ? `No ${what} among the newest ${read} observations.` : `No ${what} recorded.`);
  const vitals = observations.filter(isVitalSign).sort(byDateDesc(observationDate));
  const labs = observations.filter(isLaboratory).sort(byDateDesc(observationDate));
  const allergies = items(chart, 'AllergyIntolerance');
  const banner = allergyStatus(allergies);
  // Signed notes only: a draft (preliminary) is not part of the record.
  const notes = items(chart, 'Composition').filter((n) => n.status !== 'preliminary').sort(byDateDesc((n) => n.date));
  const noteIds = new Set(notes.map((n) => n.id));
  const encounters = [...items(chart, 'Encounter')].sort(byDateDesc((e) => field(e, 'period.start')));
  const procedures = [...items(chart, 'Procedure'), ...items(chart, 'DiagnosticReport'), ...items(chart, 'CarePlan')];
  return (
    <>
      <header className="print-patient">
        <h1 data-testid="print-patient-name">{summary.name}</h1>
        <p>
          {[ageFrom(summary.birthDate) || 'Age unknown', sexWords(summary.gender), `Born ${formatDate(summary.birthDate)}`, `MRN ${summary.mrn ?? '—'}`].join(' · ')}
        </p>
        <p className="print-allergy-line">
          <strong>Allergies:</strong>{' '}
          {banner.kind === 'allergies' ? banner.allergies.map((a) => a.line).join('; ') : banner.kind === 'none-known' ? 'No known allergies' : 'Allergies not recorded'}
        </p>
      </header>

      <PrintSection title="Problems" chart={chart} type="Condition">
        <Table
          head={['Problem', 'Status', 'Since']}
          empty="No problems recorded."
          rows={items(chart, 'Condition').map((c) => [conceptText(c.code), c.clinicalStatus ? statusWords(c.clinicalStatus) : '—', formatDate(c.onsetDateTime ?? c.recordedDate)])}
        />
      </PrintSection>

      <PrintSection title="Allergies" chart={chart} type="AllergyIntolerance">
        <Table
          head={['Substance', 'Reaction', 'Severity', 'Criticality']}
          empty="No allergies recorded."
          rows={allergies.map((a) => {
            const f = allergyFacts(a);
            return [f.substance, f.reactions.join(', ') || '—', f.severity || '—', f.criticality || '—'];
          })}
        />
      </PrintSection>

      <PrintSection title="Medications" chart={chart} type="MedicationRequest">
        <Table
          head={['Medication', 'Dosage', 'Status']}
          empty="No medications recorded."
          rows={items(chart, 'MedicationRequest').map((r) => {
            const d = dosageOf(r);
            const parts = d ? [d.dose, d.route, d.frequency, d.asNeeded ? 'as needed' : ''].filter(Boolean).join(' · ') : '';
            return [medicationName(r), [parts, d?.text ? `“${d.text}”` : ''].filter(Boolean).join(' ') || 'No dosage recorded', statusWords(r.status)];
          })}
        />
      </PrintSection>

      <PrintSection title="Immunizations" chart={chart} type="Immunization">
        <Table head={['Date', 'Vaccine']} empty="No immunizations recorded." rows={items(chart, 'Immunization').map((r) => [formatDate(r.occurrenceDateTime), conceptText(r.vaccineCode)])} />
      </PrintSection>

      <PrintSection title="Recent vitals" chart={chart} shown={vitals.length}>
        {windowNote}
        <Table head={['When', 'Vital sign', 'Value']} empty={none('vital signs')} rows={vitals.map((o) => [formatDate(observationDate(o), true), conceptText(o.code), observationValue(o)])} />
      </PrintSection>

      <PrintSection title="Lab results" chart={chart} shown={labs.length}>
        {windowNote}
        <Table head={['When', 'Test', 'Result']} empty={none('lab results')} rows={labs.map((o) => [formatDate(observationDate(o), true), conceptText(o.code), observationValue(o)])} />
      </PrintSection>

      <PrintSection title="Procedures and reports" chart={chart}>
        <Table
          head={['Kind', 'What', 'Date']}
          empty="No procedures, reports or care plans recorded."
          rows={procedures.map((r) => [
            r.resourceType === 'DiagnosticReport' ? 'Report' : r.resourceType === 'CarePlan' ? 'Care plan' : 'Procedure',
            conceptText(r.code ?? field(r, 'category')),
            formatDate(field(r, 'performedPeriod.start') ?? r.performedDateTime ?? r.effectiveDateTime ?? field(r, 'period.start')),
          ])}
        />
      </PrintSection>

      <PrintSection title="Encounters" chart={chart} type="Encounter">
        <Table
          head={['When', 'Kind', 'Type']}
          empty="No encounters recorded."
          rows={encounters.map((e) => [formatDate(field(e, 'period.start'), true), encounterClassWords(e.class), Array.isArray(e.type) && e.type.length > 0 ? conceptText(e.type) : '—'])}
        />
      </PrintSection>

      <PrintSection title="Notes" chart={chart} shown={notes.length}>
        {notes.length === 0 ? (
          <p className="print-note">No signed notes.</p>
        ) : (
          notes.map((n) => {
            const to = appendsTo(n);
            return (
              <article className="print-note-item" key={n.id}>
                <h3>
                  {typeof n.title === 'string' ? n.title : 'Progress note'}
                  {to && noteIds.has(to) ? ' (addendum)' : ''}
                </h3>
                <p className="print-note-meta">
                  Signed by {authorOf(n)} · {formatDate(n.date, true)}
                </p>
                {sectionsForReading(n).map((s, i) => (
                  <div className="print-note-section" key={i}>
                    <h4>{s.title}</h4>
                    <p>{s.text.trim() || 'Nothing written.'}</p>
                  </div>
                ))}
              </article>
            );
          })
        )}
      </PrintSection>
    </>
  );
}

export function PrintView({ chart, watermark, onReady }: Props) {
  useEffect(() => {
    let cancelled = false;
    // Laid out and fonts ready before the print starts: one frame after the commit.
    const frame = requestAnimationFrame(() => {
      void document.fonts.ready.then(() => !cancelled && onReady());
    });
    return () => {
      cancelled = true;
      cancelAnimationFrame(frame);
    };
    // Once per mount: a print view prints once.
  }, []);

  const line = watermarkLine(watermark);
  const patient = `${chart.summary.name} · MRN ${chart.summary.mrn ?? '—'}`;
  return createPortal(
    <div className="print-root" data-testid="print-view" data-watermark-time={watermarkTime(watermark.at)}>
      <div className="print-watermark print-watermark-top" data-testid="print-watermark">
        <span>{line}</span>
        <span>{patient}</span>
      </div>
      <div className="print-watermark print-watermark-bottom">
        <span>{line}</span>
        <span>Do not leave unattended. Shred when no longer needed.</span>
      </div>
      <div className="print-watermark-diagonal" aria-hidden="true">{(watermark.label || 'Confidential').toUpperCase()}</div>
      {/* The table's header and footer repeat on every page: spacers that keep the content clear of the fixed watermark lines. */}
      <table className="print-frame">
        <thead>
          <tr><td><div className="print-space-top" /></td></tr>
        </thead>
        <tfoot>
          <tr><td><div className="print-space-bottom" /></td></tr>
        </tfoot>
        <tbody>
          <tr>
            <td>
              <PrintBody chart={chart} />
            </td>
          </tr>
        </tbody>
      </table>
    </div>,
    document.body,
  );
}
