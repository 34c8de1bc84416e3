/**
 * The chart's emergency-access banner: shown while a break-the-glass grant
 * for this patient is active ("Emergency access until HH:MM — every action
 * is recorded and reviewed"), asked of main (glass.active, the cache's
 * grants); at the grant's end it says access ended. Nothing when the patient
 * is the clinician's own, or when break-the-glass is not set up.
 */
import { useEffect, useState } from 'react';
import { api, call } from '../clinician';
import { bannerWords, endedWords } from './glass-words';
import './glass.css';

export function GlassBanner({ patientId }: { patientId: string }) {
  const [grant, setGrant] = useState<{ expiresAt: string; ended: boolean } | null>(null);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    call(api().glass.active({})).then(
      ({ grants }) => {
        const g = grants.find((x) => x.patientId === patientId);
        if (cancelled || !g) return;
        setGrant({ expiresAt: g.expiresAt, ended: false });
        // At the grant's end the banner says so (main removes the record; this chart stays until closed).
        const ms = Math.min(Date.parse(g.expiresAt) - Date.now(), 2 ** 31 - 1);
        timer = setTimeout(() => !cancelled && setGrant({ expiresAt: g.expiresAt, ended: true }), Math.max(ms, 0));
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [patientId]);

  if (!grant) return null;
  return (
    <p className={`glass-banner${grant.ended ? ' ended' : ''}`} role="status" data-testid="glass-banner">
      {grant.ended ? endedWords(grant.expiresAt) : bannerWords(grant.expiresAt)}
    </p>
  );
}
