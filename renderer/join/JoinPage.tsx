/**
 * The patient's consultation page (no app, any current browser): says what
 * will happen, asks for the camera and microphone only when the patient
 * chooses to join, then runs the call through the backend's signaling socket
 * with the one-time token (socket-transport) and shows the same encryption
 * states and security code as the clinician's app, with mute, camera off and
 * leave. A link that is malformed, expired or already used gets one plain
 * sentence, never the reason (the backend discloses none either).
 */
import { useCallback, useState } from 'react';
import { CallView } from '../consult/CallView';
import { socketTransport } from '../consult/socket-transport';
import { useCall } from '../consult/use-call';
import '../consult/consult.css';

export interface Invitation {
  callId: string;
  token: string;
}

function InvalidLink() {
  return (
    <main className="join-card" data-testid="join-invalid">
      <h1>Video consultation</h1>
      <p className="join-invalid" role="alert">This link is no longer valid. Ask your clinician for a new one.</p>
    </main>
  );
}

function Intro({ onJoin }: { onJoin(): void }) {
  return (
    <main className="join-card" data-testid="join-intro">
      <h1>Video consultation</h1>
      <p>Your clinician has invited you to a video call.</p>
      <ol className="join-steps">
        <li>When you select <strong>Join the call</strong>, your browser asks to use your camera and microphone. Allow both.</li>
        <li>The call is end-to-end encrypted: only the people in it can see and hear it, not the hospital's servers.</li>
        <li>You will see a six-digit security code. Your clinician reads theirs aloud: if it is not the same as yours, leave the call.</li>
      </ol>
      <p className="muted">This link works once. If you leave or close this page, ask your clinician for a new link to join again.</p>
      <button type="button" className="primary" onClick={onJoin} data-testid="join-start" autoFocus>Join the call</button>
    </main>
  );
}

function JoinCall({ invitation, onRetry }: { invitation: Invitation; onRetry(): void }) {
  const transport = useCallback(() => socketTransport({ callId: invitation.callId, token: invitation.token }), [invitation]);
  const call = useCall(invitation.callId, transport);
  const [codesDiffered, setCodesDiffered] = useState(false);
  const { state } = call;

  // Refused (expired, used, not this call): one plain sentence, whatever the backend's reason.
  if (state.phase === 'failed' && (state.error?.code === 'NOT_ALLOWED' || state.error?.code === 'CALL_ENDED') && !call.reachedCall) return <InvalidLink />;

  return (
    <main className="join-call" data-testid="join-call">
      <h1 className="join-title">Video consultation</h1>
      <CallView
        call={call}
        host={false}
        canConfirmCode={false}
        onCodesDiffer={() => {
          setCodesDiffered(true);
          void call.hangUp(false);
        }}
        after={
          <>
            {codesDiffered && (
              <div className="consult-advice" role="alert" data-testid="join-codes-differ">
                <p><strong>The security codes did not match, so you left the call.</strong></p>
                <p>Someone may have been listening in. Phone your clinician's practice and tell them.</p>
              </div>
            )}
            {state.phase === 'failed' && state.error?.code === 'DEVICE_UNAVAILABLE' && !call.reachedCall ? (
              // The link was not spent (nothing reached the server yet): the patient may fix the camera and try again.
              <button type="button" className="primary small" onClick={onRetry} data-testid="join-retry">Try again</button>
            ) : (
              <p>You can close this page now.</p>
            )}
          </>
        }
      />
    </main>
  );
}

export function JoinPage({ invitation }: { invitation: Invitation | null }) {
  const [attempt, setAttempt] = useState(0);
  if (!invitation) return <InvalidLink />;
  if (attempt === 0) return <Intro onJoin={() => setAttempt(1)} />;
  return <JoinCall key={attempt} invitation={invitation} onRetry={() => setAttempt((a) => a + 1)} />;
}
