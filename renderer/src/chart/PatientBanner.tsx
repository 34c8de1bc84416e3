/**
 * The sticky patient banner: who this chart is (name, age, sex, MRN), what
 * must never be missed (allergies with criticality and reaction, code
 * status, deceased) and the Close button. Always on screen while the chart
 * scrolls, against a wrong-patient mistake; never scrolls away.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import type { Chart } from '../../../shared/contract';
import { ageFrom, formatDate, parseFhirDate, sexWords } from '../fhir-format';
import type { AllergyStatus } from './patient-facts';

interface Props {
  chart: Chart;
  allergies: AllergyStatus;
  code: { text: string; when: unknown } | null;
  now: Date;
  onClose(): void;
  /** Chart actions beside Close (Start consultation). */
  actions?: ReactNode;
}

export function PatientBanner({ chart, allergies, code, now, onClose, actions }: Props) {
  const { summary } = chart;
  const deceased = chart.patient.deceasedDateTime;
  const deceasedTrue = chart.patient.deceasedBoolean === true;
  const ageAt = typeof deceased === 'string' ? (parseFhirDate(deceased) ?? now) : now;
  const age = ageFrom(summary.birthDate, ageAt);
  const ref = useRef<HTMLElement>(null);
  // The tabs stick just below the banner: they need its height, which wraps with the window.
  useEffect(() => {
    const el = ref.current;
    const chart = el?.parentElement;
    if (!el || !chart) return;
    const observer = new ResizeObserver(() => chart.style.setProperty('--banner-height', `${el.offsetHeight}px`));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return (
    <header className="banner" data-testid="patient-banner" ref={ref}>
      <div className="banner-who">
        <h1 data-testid="chart-name">{summary.name}</h1>
        <p className="banner-line">
          <span data-testid="chart-age">{age ? `${age}${typeof deceased === 'string' ? ' at death' : ''}` : 'Age unknown'}</span>
          <span data-testid="chart-sex">{sexWords(summary.gender)}</span>
          <span className="banner-born">Born {formatDate(summary.birthDate)}</span>
          <span data-testid="chart-mrn">MRN {summary.mrn ?? '—'}</span>
          {(typeof deceased === 'string' || deceasedTrue) && (
            <span className="pill pill-deceased" data-testid="chart-deceased">
              Deceased{typeof deceased === 'string' ? ` ${formatDate(deceased)}` : ''}
            </span>
          )}
        </p>
      </div>
      <div className="banner-alerts">
        <p className={`banner-allergies${allergies.kind === 'allergies' ? ' has-allergies' : ''}`} data-testid="banner-allergies">
          <span className="banner-key">Allergies:</span>{' '}
          {allergies.kind === 'allergies'
            ? allergies.allergies.map((a, i) => (
                <span key={i} className="banner-allergy">
                  {a.line}
                  {i < allergies.allergies.length - 1 ? '; ' : ''}
                </span>
              ))
            : allergies.kind === 'none-known'
              ? 'No known allergies'
              : 'Allergies not recorded'}
        </p>
        {code && (
          <p className="banner-code-status" data-testid="banner-code-status">
            <span className="banner-key">Code status:</span> {code.text}
          </p>
        )}
      </div>
      <div className="banner-actions">
        {actions}
        <button type="button" className="secondary banner-close" onClick={onClose} aria-label="Close chart (Esc)">
          Close
        </button>
      </div>
    </header>
  );
}
