/**
 * The console's sign-in: the officer's user name and their passkey (no
 * password). The first time, without a passkey this browser can use, the
 * officer enrolls one with a one-time code from IT. A clinician without the
 * privacy-officer role ends on "not available", nothing more.
 */
import { useState, type FormEvent } from 'react';
import { consolePaths, type ConsoleMe } from '../../shared/privacy-console-api';
import { isNotAvailable, postJson } from './console-client';
import { createConsolePasskey, signInWithPasskey } from './console-passkey';

type Json = Record<string, unknown>;

export function ConsoleSignIn({ reason, onSignedIn, onNotAvailable }: { reason: string | null; onSignedIn(me: ConsoleMe): void; onNotAvailable(): void }) {
  const [clinicianId, setClinicianId] = useState('');
  const [code, setCode] = useState('');
  const [enrolling, setEnrolling] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const id = clinicianId.trim().toLowerCase();
    const run = async () => {
      if (enrolling) {
        const { options } = await postJson<{ options: Json }>(consolePaths.enrollOptions, { clinicianId: id, code: code.trim().toUpperCase() });
        const response = await createConsolePasskey(options);
        return postJson<ConsoleMe>(consolePaths.enrollVerify, { clinicianId: id, code: code.trim().toUpperCase(), response });
      }
      const { options } = await postJson<{ options: Json }>(consolePaths.signInOptions, { clinicianId: id });
      const response = await signInWithPasskey(options);
      return postJson<ConsoleMe>(consolePaths.signInVerify, { clinicianId: id, response });
    };
    run().then(onSignedIn, (err: unknown) => {
      setBusy(false);
      if (isNotAvailable(err)) return onNotAvailable();
      setError(err instanceof Error && err.name === 'ConsoleError' ? err.message : 'The passkey sign-in did not complete. Try again.');
    });
  };

  return (
    <main className="signin" aria-labelledby="console-signin-title" data-testid="console-sign-in">
      <form className="signin-card" onSubmit={submit}>
        <h1 id="console-signin-title">Privacy console</h1>
        {reason && <p className="muted" role="status" data-testid="console-signed-out-reason">{reason}</p>}
        <p>For privacy officers: review unusual access and account for disclosures. Sign in with your passkey.</p>
        <label htmlFor="console-user">User name</label>
        <input id="console-user" autoComplete="username" value={clinicianId} onChange={(e) => setClinicianId(e.target.value)} maxLength={64} required />
        {enrolling && (
          <>
            <label htmlFor="console-code">Enrollment code from IT</label>
            <input id="console-code" autoComplete="one-time-code" placeholder="XXXX-XXXX-XXXX" value={code} onChange={(e) => setCode(e.target.value)} maxLength={32} required />
          </>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Waiting for your passkey…' : enrolling ? 'Create passkey' : 'Sign in with passkey'}
        </button>
        <button type="button" className="link" onClick={() => setEnrolling(!enrolling)} data-testid="console-toggle-enroll">
          {enrolling ? 'I already have a passkey for this console' : 'First time here? Set up a passkey with a code from IT'}
        </button>
        {error && <p className="error" role="alert" data-testid="console-sign-in-error">{error}</p>}
      </form>
    </main>
  );
}
