/**
 * Allergies and intolerances in the summary: substance (with its status in
 * words unless active), reactions (manifestations), severity, criticality.
 */
import type { FhirResource } from '../../../shared/contract';
import { statusText, statusWords } from '../fhir-format';
import { allergyFacts } from './patient-facts';
import { TableScroll } from './Section';

export function AllergyList({ allergies }: { allergies: FhirResource[] }) {
  if (allergies.length === 0) return <p className="muted">No allergies recorded.</p>;
  return (
    <TableScroll label="Allergies">
      <table className="rows" data-testid="allergy-table">
        <thead>
          <tr>
            <th scope="col">Substance</th>
            <th scope="col">Reaction</th>
            <th scope="col">Severity</th>
            <th scope="col">Criticality</th>
          </tr>
        </thead>
        <tbody>
          {allergies.map((a) => {
            const f = allergyFacts(a);
            return (
              <tr key={a.id} data-testid="allergy">
                <th scope="row">
                  {f.substance}
                  {statusText(a.clinicalStatus) !== 'active' && a.clinicalStatus ? <span className="muted"> ({statusWords(a.clinicalStatus).toLowerCase()})</span> : null}
                </th>
                <td>{f.reactions.join(', ') || '—'}</td>
                <td>{f.severity ? f.severity.charAt(0).toUpperCase() + f.severity.slice(1) : '—'}</td>
                <td className={f.criticality === 'high criticality' ? 'crit-text' : undefined}>{f.criticality ? f.criticality.replace(/ criticality$/, '').replace(/^./, (c) => c.toUpperCase()) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
