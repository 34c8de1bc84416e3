/**
 * The patient's medications, current first: name without tags, then dose,
 * route and frequency from the structured dosage instruction, and the
 * dosage text as the prescriber wrote it. Never drops the dosage text.
 */
import { useState } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { conceptText, dosageOf, formatDate, referenceDisplay, statusWords } from '../fhir-format';

const SHOWN = 12;
const CURRENT = new Set(['active', 'on-hold', 'draft']);

function medicationName(r: FhirResource): string {
  if (r.medicationCodeableConcept) return conceptText(r.medicationCodeableConcept);
  return referenceDisplay(r.medicationReference) || 'Medication';
}

export function MedicationList({ requests }: { requests: FhirResource[] }) {
  const [all, setAll] = useState(false);
  if (requests.length === 0) return <p className="muted">No medications recorded.</p>;
  const sorted = [...requests].sort((a, b) => Number(CURRENT.has(String(b.status))) - Number(CURRENT.has(String(a.status))));
  const shown = all ? sorted : sorted.slice(0, SHOWN);
  return (
    <>
      <ul className="med-list">
        {shown.map((r) => {
          const d = dosageOf(r);
          const parts = d ? [d.dose, d.route, d.frequency, d.asNeeded ? 'as needed' : ''].filter(Boolean) : [];
          const current = CURRENT.has(String(r.status));
          return (
            <li key={r.id} className={`med${current ? '' : ' med-past'}`} data-testid="medication">
              <div className="med-head">
                <span className="med-name">{medicationName(r)}</span>
                <span className={current ? 'med-status' : 'med-status muted'}>{statusWords(r.status)}</span>
              </div>
              {parts.length > 0 && <div className="med-dosage" data-testid="medication-dosage">{parts.join(' · ')}</div>}
              {d?.text && <div className="med-text" data-testid="medication-text">“{d.text}”</div>}
              {!d && <div className="med-text muted">No dosage recorded{typeof r.authoredOn === 'string' ? ` (ordered ${formatDate(r.authoredOn)})` : ''}</div>}
            </li>
          );
        })}
      </ul>
      {sorted.length > shown.length && (
        <button type="button" className="link" onClick={() => setAll(true)}>Show all {sorted.length}</button>
      )}
    </>
  );
}
