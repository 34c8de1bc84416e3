/**
 * Recording vital signs: labelled fields with their units, kept as a draft
 * while typed, checked with the one shared schema (vitalsInputSchema) before
 * sending; each error stands at its field in words with the range, and the
 * backend's field errors land the same way. A temperature that looks like
 * °F is offered as a °C conversion, never converted silently. After a save,
 * the vitals can be undone while they have not left this computer.
 */
import { useId, useState, type FormEvent } from 'react';
import { BLOOD_PRESSURE, VITAL_SIGNS, typedDecimal, vitalsInputSchema } from '../../../shared/charting';
import type { FieldError } from '../../../shared/app-error';
import { fieldErrorsOf } from '../../../shared/field-errors';
import { api, call, ClinicianError } from '../clinician';
import { rememberChange } from './recent-changes';
import { UndoLine } from './UndoLine';
import { DraftStatus } from './DraftStatus';
import { useDraft } from './use-draft';

const FIELDS = [
  { key: 'systolic', label: 'Systolic', unit: 'mmHg', range: BLOOD_PRESSURE.systolic },
  { key: 'diastolic', label: 'Diastolic', unit: 'mmHg', range: BLOOD_PRESSURE.diastolic },
  { key: 'heartRate', label: 'Heart rate', unit: '/min', range: VITAL_SIGNS.heartRate },
  { key: 'respiratoryRate', label: 'Respiratory rate', unit: '/min', range: VITAL_SIGNS.respiratoryRate },
  { key: 'temperature', label: 'Temperature', unit: '°C', range: VITAL_SIGNS.temperature },
  { key: 'spo2', label: 'SpO₂', unit: '%', range: VITAL_SIGNS.spo2 },
  { key: 'weight', label: 'Weight', unit: 'kg', range: VITAL_SIGNS.weight },
] as const;
type VitalKey = (typeof FIELDS)[number]['key'];
const EMPTY: Record<VitalKey, string> = { systolic: '', diastolic: '', heartRate: '', respiratoryRate: '', temperature: '', spo2: '', weight: '' };

/** A value typed in the °C field that is a plausible body temperature in °F. */
export function fahrenheitOffer(raw: string): { f: number; c: number } | null {
  const f = typedDecimal(raw);
  if (raw.trim() === '' || !Number.isFinite(f) || f < 86 || f > 113) return null;
  return { f, c: Math.round(((f - 32) * 5) / 9 * 10) / 10 };
}

/** Errors in the form's order (errors about the whole form first), as the eye reads the fields. */
function inFormOrder(errors: FieldError[]): FieldError[] {
  const rank = (e: FieldError) => FIELDS.findIndex((f) => f.key === e.field);
  return [...errors].sort((a, b) => rank(a) - rank(b));
}


export function VitalsForm({ patientId, onSaved }: { patientId: string; onSaved(): void }) {
  const draft = useDraft(patientId, 'vitals', '', EMPTY);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saved, setSaved] = useState<{ key: string; at: string } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formId = useId();
  const errorOf = (key: string) => errors.find((e) => e.field === key);
  const fOffer = fahrenheitOffer(draft.body.temperature ?? '');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFailure(null);
    setSaved(null);
    const input: Record<string, unknown> = { patientId };
    for (const f of FIELDS) {
      const raw = (draft.body[f.key] ?? '').trim();
      if (raw !== '') input[f.key] = typedDecimal(raw);
    }
    const checked = vitalsInputSchema.safeParse(input);
    if (!checked.success) {
      setErrors(inFormOrder(fieldErrorsOf(checked.error)));
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      const { ids } = await call(api().chart.recordVitals(checked.data));
      await draft.discard();
      const key = `vitals/${ids[0] ?? ''}`;
      rememberChange(patientId, { key, resourceType: 'Observation', resourceIds: ids, label: 'Vitals saved.' });
      setSaved({ key, at: new Date().toISOString() });
      onSaved();
    } catch (err) {
      if (err instanceof ClinicianError && err.fields.length > 0) setErrors(inFormOrder(err.fields));
      else setFailure(err instanceof Error ? err.message : 'The vitals were not saved.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="charting-card vitals-entry" aria-labelledby={`${formId}-title`} data-testid="vitals-form">
      <div className="charting-card-head">
        <h3 id={`${formId}-title`}>Record vital signs</h3>
        <DraftStatus state={draft.state} updatedAt={draft.updatedAt} />
      </div>
      {errors.length > 0 && (
        <div className="field-summary" role="alert" data-testid="vitals-errors">
          <p>Please correct {errors.length === 1 ? 'this value' : `these ${errors.length} values`}:</p>
          <ul>
            {errors.map((e) => <li key={`${e.field}:${e.message}`}>{e.message}</li>)}
          </ul>
        </div>
      )}
      <form className="vitals-grid" onSubmit={(e) => void submit(e)} aria-labelledby={`${formId}-title`} noValidate>
        {FIELDS.map((f) => {
          const error = errorOf(f.key);
          const id = `${formId}-${f.key}`;
          const hintId = `${id}-range`;
          const errorId = `${id}-error`;
          const describedBy = [hintId, error ? errorId : null, f.key === 'temperature' && fOffer ? `${id}-offer` : null].filter(Boolean).join(' ');
          return (
            <div className={`charting-field vital-field${error ? ' invalid' : ''}`} key={f.key} data-testid={`field-${f.key}`}>
              <label htmlFor={id}>{f.label} ({f.unit})</label>
              <input
                id={id}
                name={f.key}
                inputMode="decimal"
                autoComplete="off"
                value={draft.body[f.key] ?? ''}
                onChange={(e) => draft.set(f.key, e.target.value)}
                aria-invalid={error ? true : undefined}
                aria-describedby={describedBy}
              />
              <small id={hintId} className="muted">{f.range.min}–{f.range.max} {f.unit}</small>
              {error && <span id={errorId} className="field-error" data-testid={`error-${f.key}`}>{error.message}</span>}
              {f.key === 'temperature' && fOffer && (
                <span id={`${id}-offer`} className="field-offer" data-testid="fahrenheit-offer">
                  {fOffer.f} looks like °F = {fOffer.c} °C.{' '}
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => {
                      draft.set('temperature', String(fOffer.c));
                      setErrors((all) => all.filter((x) => x.field !== 'temperature'));
                    }}
                  >
                    Use {fOffer.c} °C?
                  </button>
                </span>
              )}
            </div>
          );
        })}
        <div className="charting-actions vitals-actions">
          <button type="submit" className="primary small" disabled={busy}>Save vitals</button>
        </div>
      </form>
      {saved && <UndoLine patientId={patientId} changeKey={saved.key} onUndone={onSaved} />}
      {failure && <p className="error" role="alert" data-testid="charting-error">{failure}</p>}
    </section>
  );
}
