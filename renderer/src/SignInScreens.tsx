/**
 * The screens before any patient data: first-run enrollment (clinician id
 * and the one-time code from IT, then a new passkey: it says what to do,
 * never "Locked") and the lock screen (says Locked; unlock with the passkey,
 * online or offline). They show no PHI.
 */
import { useState, type FormEvent } from 'react';
import type { AuthStatus } from '../../shared/contract';
import { api, call } from './clinician';
import { createPasskey, usePasskey } from './passkey-ceremony';

function useBusy() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Something went wrong.');
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

export function EnrollScreen({ reason }: { reason: string | null }) {
  const [clinicianId, setClinicianId] = useState('');
  const [code, setCode] = useState('');
  const { busy, error, run } = useBusy();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const { options } = await call(api().auth.enrollBegin({ clinicianId: clinicianId.trim().toLowerCase(), code }));
      const created = await createPasskey(options);
      await call(api().auth.enrollFinish(created));
    });
  };
  return (
    <main className="signin" data-testid="enroll-screen" aria-labelledby="enroll-title">
      <form className="signin-card" onSubmit={submit}>
        <h1 id="enroll-title">Set up this computer</h1>
        {reason && <p className="error" role="alert" data-testid="signed-out-reason">{reason}</p>}
        <p>To use Clinician Desktop here, enroll this computer once:</p>
        <ol>
          <li>Enter your user name and the one-time enrollment code you got from IT.</li>
          <li>Choose <strong>Create passkey</strong> and confirm with Windows Hello, Touch ID or your security key.</li>
        </ol>
        <p className="muted">After that you unlock with the same passkey, also when the hospital network is down.</p>
        <label htmlFor="clinician-id">User name</label>
        <input id="clinician-id" autoFocus autoComplete="username" value={clinicianId} onChange={(e) => setClinicianId(e.target.value)} maxLength={64} required />
        <label htmlFor="enroll-code">Enrollment code</label>
        <input id="enroll-code" autoComplete="one-time-code" placeholder="XXXX-XXXX-XXXX" value={code} onChange={(e) => setCode(e.target.value)} maxLength={32} required />
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Waiting for your passkey…' : 'Create passkey'}</button>
        {error && <p className="error" role="alert" data-testid="signin-error">{error}</p>}
      </form>
    </main>
  );
}

export function LockScreen({ status }: { status: AuthStatus }) {
  const { busy, error, run } = useBusy();
  const [offline, setOffline] = useState(false);
  const unlock = () =>
    void run(async () => {
      const begun = await call(api().auth.signInBegin({}));
      setOffline(begun.offline);
      const used = await usePasskey(begun.options);
      await call(api().auth.signInFinish(used));
    });
  const reasons: Record<string, string> = {
    idle: 'Locked after a period of inactivity.',
    'screen-lock': 'Locked because the computer was locked.',
    sleep: 'Locked because the computer went to sleep.',
    manual: 'You locked the screen.',
    start: 'Unlock with your passkey to open the patient cache.',
  };
  return (
    <main className="signin" data-testid="lock-screen" aria-labelledby="lock-title">
      <div className="signin-card">
        <h1 id="lock-title">Locked</h1>
        {status.clinician && <p data-testid="lock-clinician">Signed in as <strong>{status.clinician.displayName}</strong>. No patient data is shown while locked.</p>}
        <p className="muted" data-testid="lock-reason">{reasons[status.reason ?? 'start'] ?? 'Unlock with your passkey to go on.'}</p>
        <button type="button" className="primary" autoFocus onClick={unlock} disabled={busy}>
          {busy ? 'Waiting for your passkey…' : 'Unlock with passkey'}
        </button>
        {offline && <p className="muted" data-testid="offline-note">The hospital server is unreachable: unlocking offline on this computer.</p>}
        {error && <p className="error" role="alert" data-testid="signin-error">{error}</p>}
      </div>
    </main>
  );
}
