/**
 * The chart's consultation, if this desktop is in one for this patient: the
 * panel under the banner. Leaving the chart leaves the call (its panel goes
 * with it), and a finished call's panel closes with its Close button.
 */
import { useEffect } from 'react';
import { ConsultPanel } from './ConsultPanel';
import { activeConsult, setActiveConsult, useActiveConsult } from './consult-session';

export function ChartConsultation({ patientId }: { patientId: string }) {
  const active = useActiveConsult();
  // The chart closes: so does its call (the panel's own cleanup leaves it).
  useEffect(() => () => {
    if (activeConsult()?.patientId === patientId) setActiveConsult(null);
  }, [patientId]);
  if (!active || active.patientId !== patientId) return null;
  return <ConsultPanel key={active.callId} callId={active.callId} host={active.host} onClose={() => setActiveConsult(null)} />;
}
