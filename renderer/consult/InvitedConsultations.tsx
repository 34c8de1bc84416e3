/**
 * "Consultations you are invited to", above "My patients": the calls another
 * clinician invited this one to (consult.invited, asked again every
 * half-minute while the list is on screen), each with Join, which opens the
 * patient's chart with the call. Shows nothing when there are none or when
 * consultations are not available, so the worklist is unchanged then.
 */
import { useEffect, useState } from 'react';
import type { InvitedCall } from '../../shared/consult/consult-api';
import { api, call } from '../src/clinician';
import { formatTime } from '../src/fhir-format';
import { setActiveConsult, useActiveConsult } from './consult-session';
import './consult.css';

const REFRESH_MS = 30_000;

export function InvitedConsultations({ onOpen }: { onOpen(patientId: string): void }) {
  const [calls, setCalls] = useState<InvitedCall[]>([]);
  const active = useActiveConsult();

  useEffect(() => {
    let cancelled = false;
    const load = () =>
      call(api().consult.invited({})).then(
        (r) => !cancelled && setCalls(r.calls),
        () => !cancelled && setCalls([]),
      );
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, []);

  if (calls.length === 0) return null;
  const join = (c: InvitedCall) => {
    setActiveConsult({ patientId: c.patientId, callId: c.callId, host: false });
    onOpen(c.patientId);
  };
  return (
    <section className="consult-invited" aria-labelledby="consult-invited-title" data-testid="consult-invited">
      <h2 id="consult-invited-title">Consultations you are invited to</h2>
      <ul>
        {calls.map((c) => (
          <li key={c.callId}>
            <span>Video consultation started by {c.startedBy} at {formatTime(c.startedAt)}</span>
            <button type="button" className="primary small" onClick={() => join(c)} disabled={active !== null} aria-label={`Join the consultation started by ${c.startedBy}`} data-testid="consult-join-invited">
              Join
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
