/**
 * Charting on an open chart: record vital signs (ranges checked in main)
 * and write a SOAP progress note, save it as a draft and sign it. Works the
 * same offline: every entry goes to the encrypted cache and the outbox.
 */
import { useState, type FormEvent } from 'react';
import type { Chart, ChartTab } from '../../../shared/contract';
import { api, call } from '../clinician';

const VITAL_FIELDS = [
  ['systolic', 'Systolic', 'mmHg'],
  ['diastolic', 'Diastolic', 'mmHg'],
  ['heartRate', 'Heart rate', '/min'],
  ['respiratoryRate', 'Resp. rate', '/min'],
  ['temperature', 'Temperature', '°C'],
  ['spo2', 'SpO₂', '%'],
  ['weight', 'Weight', 'kg'],
] as const;

type VitalKey = (typeof VITAL_FIELDS)[number][0];

export interface PaneProps {
  patientId: string;
  chart: Chart;
  onSaved(): void;
  onOpenTab(tab: ChartTab): void;
}

export function WritePane({ patientId, onSaved }: PaneProps) {
  const [vitals, setVitals] = useState<Partial<Record<VitalKey, string>>>({});
  const [note, setNote] = useState({ subjective: '', objective: '', assessment: '', plan: '' });
  const [noteId, setNoteId] = useState<string | undefined>();
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const run = async (fn: () => Promise<string>) => {
    setError(null);
    setMessage(null);
    try {
      setMessage(await fn());
      onSaved();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Not saved.');
    }
  };

  const saveVitals = (e: FormEvent) => {
    e.preventDefault();
    const input: Record<string, number | string> = { patientId };
    for (const [key] of VITAL_FIELDS) {
      const raw = vitals[key];
      if (raw !== undefined && raw.trim() !== '') input[key] = Number(raw);
    }
    void run(async () => {
      await call(api().chart.recordVitals(input as never));
      setVitals({});
      return 'Vitals saved.';
    });
  };

  const saveDraft = () =>
    run(async () => {
      const r = await call(api().notes.saveDraft({ patientId, ...(noteId ? { noteId } : {}), ...note }));
      setNoteId(r.noteId);
      return 'Draft saved.';
    });

  const sign = () =>
    run(async () => {
      const r = await call(api().notes.saveDraft({ patientId, ...(noteId ? { noteId } : {}), ...note }));
      await call(api().notes.sign({ noteId: r.noteId }));
      setNoteId(undefined);
      setNote({ subjective: '', objective: '', assessment: '', plan: '' });
      return 'Note signed.';
    });

  return (
    <section className="section charting" data-testid="charting">
      <h2>Chart</h2>
      <form className="vitals-form" onSubmit={saveVitals} aria-label="Record vital signs">
        {VITAL_FIELDS.map(([key, label, unit]) => (
          <label key={key}>
            <span>{label}</span>
            <input inputMode="decimal" name={key} value={vitals[key] ?? ''} onChange={(e) => setVitals((v) => ({ ...v, [key]: e.target.value }))} aria-label={`${label} (${unit})`} />
            <small>{unit}</small>
          </label>
        ))}
        <button type="submit" className="primary small">Save vitals</button>
      </form>
      <div className="note-editor" aria-label="Progress note">
        {(['subjective', 'objective', 'assessment', 'plan'] as const).map((k) => (
          <label key={k}>
            <span>{k[0]!.toUpperCase() + k.slice(1)}</span>
            <textarea name={k} rows={2} value={note[k]} onChange={(e) => setNote((n) => ({ ...n, [k]: e.target.value }))} />
          </label>
        ))}
        <div className="note-actions">
          <button type="button" className="link" onClick={() => void saveDraft()}>Save draft</button>
          <button type="button" className="primary small" onClick={() => void sign()}>Sign note</button>
        </div>
      </div>
      {message && <p className="ok" role="status" data-testid="charting-message">{message}</p>}
      {error && <p className="error" role="alert" data-testid="charting-error">{error}</p>}
    </section>
  );
}
