/**
 * One patient's chart: the sticky patient banner, then tabs (Summary,
 * Results, Notes, Write, Encounters, Access). Data comes only from
 * chart.open, and for the Results and Encounters tabs chart.results and
 * chart.encounters, read while the tab is shown, once per load of the chart
 * (all audited in main), and is dropped when the chart closes. Esc
 * closes the chart only when no dialog is open and focus is not in an
 * editable field; closing never discards drafts (they live in the cache).
 * Must never show a reading as current when it is old, nor a raw code where
 * words exist.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { CHART_TABS, type AuditEntryView, type Chart, type ChartTab, type FhirResource } from '../../../shared/contract';
import { api, call } from '../clinician';
import { ChartConsultation } from '../../consult/ChartConsultation';
import { activeConsult } from '../../consult/consult-session';
import { StartConsultation } from '../../consult/StartConsultation';
import { NotesPane, WritePane } from '../charting';
import { ChartExportActions } from '../export/ChartExportActions';
import { ageFrom } from '../fhir-format';
import { AccessLog } from './AccessLog';
import { ChartTabs, panelId, tabId } from './ChartTabs';
import { EncounterTimeline } from './EncounterTimeline';
import { GlassBanner } from '../glass/GlassBanner';
import { PatientBanner } from './PatientBanner';
import { ResultsTab } from './ResultsTab';
import { useChartGroup } from './use-chart-group';
import { Section } from './Section';
import { SummaryTab } from './SummaryTab';
import { allergyStatus, codeStatus } from './patient-facts';
import { vitalReadings } from './vital-signs';
import './chart.css';

interface Props {
  patientId: string;
  onClose(): void;
  initialTab?: ChartTab;
  onTabChange?(tab: ChartTab): void;
}

function items(chart: Chart, type: string): FhirResource[] {
  return chart.groups[type]?.items ?? [];
}

/** Whether Esc belongs to something else: an open dialog, or a field the clinician is typing in. */
function escapeBelongsElsewhere(target: EventTarget | null): boolean {
  if (document.querySelector('dialog[open]')) return true;
  const el = (target instanceof Element ? target : null) ?? document.activeElement;
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  return el.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]') !== null;
}

/** Adult ranges apply unless the patient is known to be under 18. */
function isAdult(birthDate: string | null, now: Date): boolean {
  const age = ageFrom(birthDate, now);
  return !/^(\d+ (mo|d)|([0-9]|1[0-7]) y)$/.test(age);
}

export function ChartView({ patientId, onClose, initialTab, onTabChange }: Props) {
  const [chart, setChart] = useState<Chart | null>(null);
  // null while the access log is being read: an older copy is never shown as the current one.
  const [trail, setTrail] = useState<AuditEntryView[] | null | Error>(null);
  const trailRead = useRef(0);
  const readTrail = useCallback(() => {
    const seq = ++trailRead.current;
    setTrail(null);
    call(api().audit.forPatient({ patientId, limit: 50 })).then(
      (t) => seq === trailRead.current && setTrail(t.entries),
      (err: Error) => seq === trailRead.current && setTrail(err),
    );
  }, [patientId]);
  // A read still on its way when this chart goes is never shown (the Workspace keys a chart by patient; this holds without it).
  useEffect(() => () => void trailRead.current++, [patientId]);
  const [error, setError] = useState<string | null>(null);
  const [revision, setRevision] = useState(0);
  const [tab, setTab] = useState<ChartTab>(initialTab ?? 'summary');
  const tabRef = useRef(tab);
  tabRef.current = tab;
  const [visited, setVisited] = useState<ReadonlySet<ChartTab>>(() => new Set([initialTab ?? 'summary']));

  useEffect(() => {
    let cancelled = false;
    call(api().chart.open({ patientId }))
      .then((c) => {
        if (cancelled) return;
        setChart(c);
        if (tabRef.current === 'access') readTrail();
      })
      .catch((err: Error) => !cancelled && setError(err.message));
    return () => {
      cancelled = true;
    };
  }, [patientId, revision, readTrail]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || escapeBelongsElsewhere(e.target)) return;
      // Esc never hangs up a consultation: while this chart has one, it stays open.
      if (activeConsult()?.patientId === patientId) return;
      onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose, patientId]);

  const select = useCallback(
    (next: ChartTab) => {
      setTab(next);
      setVisited((v) => (v.has(next) ? v : new Set([...v, next])));
      onTabChange?.(next);
      // The access log is read afresh each time it is chosen: as it stands now, including this chart's own read.
      if (next === 'access') readTrail();
    },
    [onTabChange, readTrail],
  );
  const reload = useCallback(() => setRevision((r) => r + 1), []);

  // The deferred groups, read while their tab is shown, once per load of the chart (never for another patient than the one shown).
  const load = chart !== null && chart.summary.id === patientId ? chart : null;
  const readResults = useCallback(() => call(api().chart.results({ patientId })), [patientId]);
  const readEncounters = useCallback(() => call(api().chart.encounters({ patientId })), [patientId]);
  const results = useChartGroup(readResults, load, tab === 'results');
  const encounterCount = chart?.groups.Encounter?.total ?? 0;
  const encounters = useChartGroup(readEncounters, load, tab === 'encounters' && encounterCount > 0);

  // "Now" for the ages of readings: the moment this chart (re)loaded.
  const now = useMemo(() => new Date(), [chart]);
  const latestObservations = useMemo(() => chart?.latestObservations ?? [], [chart]);
  const adult = chart ? isAdult(chart.summary.birthDate, now) : true;
  const latestReadings = useMemo(() => vitalReadings(latestObservations, adult), [latestObservations, adult]);
  const history = results !== null && !(results instanceof Error) ? results.items : null;
  const historyReadings = useMemo(() => vitalReadings(history ?? [], adult), [history, adult]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!chart) return <p className="muted">Opening chart…</p>;

  const panel = (t: ChartTab) => {
    switch (t) {
      case 'summary':
        return <SummaryTab patientId={patientId} chart={chart} readings={latestReadings} now={now} onSaved={reload} onOpenTab={select} />;
      case 'results':
        if (results === null) return <p className="muted" role="status">Reading results…</p>;
        if (results instanceof Error) return <p className="error" role="alert">{results.message}</p>;
        return <ResultsTab observations={results.items} total={results.total} readings={historyReadings} now={now} adult={adult} />;
      case 'notes':
        return <NotesPane patientId={patientId} chart={chart} onSaved={reload} onOpenTab={select} />;
      case 'write':
        return <WritePane patientId={patientId} chart={chart} onSaved={reload} onOpenTab={select} />;
      case 'encounters':
        return (
          <Section title="Encounters" count={encounters !== null && !(encounters instanceof Error) ? encounters.total : encounterCount} testId="encounters">
            {encounterCount === 0 ? (
              <EncounterTimeline encounters={[]} />
            ) : encounters === null ? (
              <p className="muted" role="status">Reading encounters…</p>
            ) : encounters instanceof Error ? (
              <p className="error" role="alert">{encounters.message}</p>
            ) : (
              <EncounterTimeline encounters={encounters.items} />
            )}
          </Section>
        );
      case 'access':
        return (
          <Section title="Access to this record on this computer" testId="access-log">
            {trail === null ? (
              <p className="muted" role="status">Reading the access log…</p>
            ) : trail instanceof Error ? (
              <p className="error" role="alert">{trail.message}</p>
            ) : (
              <AccessLog entries={trail} />
            )}
          </Section>
        );
    }
  };

  return (
    <article className="chart" data-testid="chart" aria-label={`Chart of ${chart.summary.name}`}>
      <PatientBanner chart={chart} allergies={allergyStatus(items(chart, 'AllergyIntolerance'))} code={codeStatus(latestObservations)} now={now} onClose={onClose}
        actions={
          <>
            <StartConsultation patientId={patientId} />
            <ChartExportActions patientId={patientId} />
          </>
        } />
      <GlassBanner patientId={patientId} />
      <ChartConsultation patientId={patientId} />
      <ChartTabs tabs={CHART_TABS} active={tab} onSelect={select} />
      {CHART_TABS.map((t) => (
        <div key={t} role="tabpanel" id={panelId(t)} aria-labelledby={tabId(t)} hidden={t !== tab} tabIndex={0} className="chart-panel" data-testid={`panel-${t}`}>
          {visited.has(t) && panel(t)}
        </div>
      ))}
    </article>
  );
}
