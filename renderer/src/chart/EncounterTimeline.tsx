/**
 * The patient's encounters as a timeline, newest first: when, the kind of
 * encounter in plain words (never "AMB"), its type without SNOMED tags, the
 * reason, the provider and, unless finished, its status.
 */
import type { FhirResource } from '../../../shared/contract';
import { conceptText, encounterClassWords, field, formatDate, referenceDisplay, statusWords } from '../fhir-format';

function reasonOf(e: FhirResource): string {
  const codes = e.reasonCode;
  if (Array.isArray(codes) && codes.length > 0) return codes.map((c) => conceptText(c)).join('; ');
  const refs = e.reasonReference;
  if (Array.isArray(refs) && refs.length > 0) return refs.map((r) => referenceDisplay(r)).filter(Boolean).join('; ');
  return '';
}

function providerOf(e: FhirResource): string {
  const participants = Array.isArray(e.participant) ? (e.participant as Array<{ individual?: unknown }>) : [];
  const names = participants.map((p) => referenceDisplay(p.individual)).filter(Boolean);
  return names.join(', ') || referenceDisplay(e.serviceProvider);
}

export function EncounterTimeline({ encounters }: { encounters: FhirResource[] }) {
  if (encounters.length === 0) return <p className="muted">No encounters recorded.</p>;
  return (
    <ol className="timeline" data-testid="encounter-timeline">
      {encounters.map((e) => {
        const start = field(e, 'period.start');
        const end = field(e, 'period.end');
        const reason = reasonOf(e);
        const provider = providerOf(e);
        const status = typeof e.status === 'string' && e.status !== 'finished' ? statusWords(e.status) : '';
        return (
          <li key={e.id} className="timeline-item" data-testid="encounter">
            <div className="timeline-when">
              <span>{formatDate(start, true)}</span>
              {typeof end === 'string' && formatDate(end) !== formatDate(start) && <span className="muted">to {formatDate(end)}</span>}
            </div>
            <div className="timeline-body">
              <p className="timeline-title">
                <span className="encounter-class">{encounterClassWords(e.class)}</span>
                {Array.isArray(e.type) && e.type.length > 0 && <span>{conceptText(e.type)}</span>}
                {status && <span className="pill pill-status">{status}</span>}
              </p>
              {reason && <p className="timeline-detail">Reason: {reason}</p>}
              {provider && <p className="timeline-detail">With {provider}</p>}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
