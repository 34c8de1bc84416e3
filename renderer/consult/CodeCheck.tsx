/**
 * The short authentication string: six digits shown large ("123 456") for
 * everyone in the call to read aloud. The clinician confirms "Codes match"
 * (main audits it) or "Codes differ", which ends the call with advice: a
 * different code means someone may have swapped keys in the middle. Never
 * offers "Codes match" before the code is known, and never for the patient
 * (their side only reads it and can leave).
 */
import type { CallState } from './call-state';
import { groupedCode, spokenCode } from './call-words';

interface Props {
  state: CallState;
  /** Desktop clinicians confirm; the patient's page only reads the code out. */
  canConfirm: boolean;
  onMatch(): void;
  onDiffer(): void;
}

export function CodeCheck({ state, canConfirm, onMatch, onDiffer }: Props) {
  const { code } = state;
  if (state.phase !== 'in-call' || !code) return null;
  const verified = state.encryption === 'e2ee-verified';
  return (
    <section className="consult-code" aria-labelledby="consult-code-title" data-testid="consult-code">
      <h3 id="consult-code-title" className="consult-code-title">Security code</h3>
      <p className="consult-code-digits" aria-label={spokenCode(code)} data-testid="consult-code-digits">{groupedCode(code)}</p>
      {verified ? (
        <p className="consult-code-help">Checked: everyone in this call sees this code.</p>
      ) : canConfirm ? (
        <>
          <p className="consult-code-help">Read the code aloud. Everyone in the call must see the same six digits.</p>
          <div className="consult-code-actions">
            <button type="button" className="primary small" onClick={onMatch} data-testid="codes-match">Codes match</button>
            <button type="button" className="secondary consult-danger" onClick={onDiffer} data-testid="codes-differ">Codes differ</button>
          </div>
        </>
      ) : (
        <>
          <p className="consult-code-help">Your clinician will read out a code. If it is not this one, leave the call.</p>
          <div className="consult-code-actions">
            <button type="button" className="secondary consult-danger" onClick={onDiffer} data-testid="codes-differ">The codes differ: leave</button>
          </div>
        </>
      )}
    </section>
  );
}
