/**
 * The desktop's consultation panel, shown in the patient's chart under the
 * banner (so the call is never apart from whose chart it is): the call
 * (CallView) through main's signaling (desktop-transport), Invite for the
 * host, and what happened when it is over. "Codes differ" ends the call (for
 * everyone, as host) and says what to do. Closing the chart leaves the call.
 * Never shows or keeps a key, a token or a join link beyond InviteDialog.
 */
import { useCallback, useEffect, useState } from 'react';
import { CallView } from './CallView';
import { encryptionWords, shortEncryptionWords } from './call-words';
import { setCallBadge } from './consult-session';
import { desktopTransport } from './desktop-transport';
import { InviteDialog } from './InviteDialog';
import { useCall } from './use-call';
import './consult.css';

/** Below the shortest idle lock the organisation may set (1 minute). */
const CALL_ACTIVITY_PING_MS = 20_000;

interface Props {
  callId: string;
  host: boolean;
  onClose(): void;
}

export function CodesDifferAdvice() {
  return (
    <div className="consult-advice" role="alert" data-testid="consult-codes-differ">
      <p><strong>The security codes did not match, so the call was ended.</strong></p>
      <p>Someone may have been intercepting it. Do not continue this consultation by video: report it to IT security, then start a new consultation.</p>
    </div>
  );
}

export function ConsultPanel({ callId, host, onClose }: Props) {
  const transport = useCallback(() => desktopTransport(callId), [callId]);
  const call = useCall(callId, transport);
  const [inviting, setInviting] = useState(false);
  const [codesDiffered, setCodesDiffered] = useState(false);
  const [endedForEveryone, setEndedForEveryone] = useState(false);

  const codesDiffer = () => {
    setCodesDiffered(true);
    void call.hangUp(host);
  };
  const over = call.state.phase === 'ended' || call.state.phase === 'failed';
  const words = encryptionWords(call.state, call.reachedCall);
  useEffect(() => {
    setCallBadge(over ? null : { tone: words.tone, short: shortEncryptionWords(words) });
  }, [over, words.tone, words.text]);
  useEffect(() => () => setCallBadge(null), []);
  // A clinician in a call is present even without touching the keyboard: the call counts as activity, so the idle lock
  // does not end a consultation mid-sentence. A manual lock, the OS screen lock and sleep still end it.
  const inCall = call.state.phase === 'in-call';
  useEffect(() => {
    if (!inCall) return;
    const ping = () => void window.clinician.auth.activity({});
    ping();
    const timer = window.setInterval(ping, CALL_ACTIVITY_PING_MS);
    return () => window.clearInterval(timer);
  }, [inCall]);

  return (
    <section className="consult-panel" id="consult-panel" tabIndex={-1} aria-labelledby="consult-title" data-testid="consult-panel">
      <h2 id="consult-title" className="consult-title">Video consultation</h2>
      <CallView
        call={call}
        host={host}
        canConfirmCode
        onCodesDiffer={codesDiffer}
        onHungUp={setEndedForEveryone}
        endedLine={codesDiffered ? null : endedForEveryone ? 'You ended the consultation for everyone.' : undefined}
        actions={
          host && !over ? (
            <button type="button" className="secondary" onClick={() => setInviting(true)} aria-haspopup="dialog" data-testid="consult-invite">
              Invite…
            </button>
          ) : undefined
        }
        after={
          <>
            {codesDiffered && <CodesDifferAdvice />}
            <button type="button" className="secondary" onClick={onClose} data-testid="consult-close">Close</button>
          </>
        }
      />
      {inviting && <InviteDialog callId={callId} onClose={() => setInviting(false)} />}
    </section>
  );
}
