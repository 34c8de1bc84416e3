/**
 * One call as both sides see it (the desktop panel and the patient's join
 * page): the encryption badge first and always, the security code, the
 * people as video tiles, camera and microphone choice and the controls; and
 * when the call is over or could not start, what happened in plain words.
 * Shows nothing the engine did not report; never a key or a token.
 */
import type { ReactNode } from 'react';
import { CallControls } from './CallControls';
import { CodeCheck } from './CodeCheck';
import { DevicePicker } from './DevicePicker';
import { codeConfirmationLines } from './call-words';
import { EncryptionStatus } from './EncryptionStatus';
import { ParticipantTiles } from './ParticipantTiles';
import type { CallControl } from './use-call';

interface Props {
  call: CallControl;
  host: boolean;
  /** Desktop clinicians confirm the code; the patient only reads it. */
  canConfirmCode: boolean;
  /** "Codes differ": end (host) or leave, then say what to do. */
  onCodesDiffer(): void;
  /** Extra actions beside the controls (the desktop's Invite). */
  actions?: ReactNode;
  /** What the screen shows once the call is over (the desktop's Close, the join page's advice). */
  after?: ReactNode;
  /** Told when this side hangs up (true: ended for everyone). */
  onHungUp?(end: boolean): void;
  /** Instead of the usual line once the call has ended (null: none, the screen's `after` says it). */
  endedLine?: string | null;
}

const ENDED_WORDS: Record<string, string> = {
  left: 'You left the consultation.',
  'host-ended': 'The clinician ended the consultation.',
  expired: 'The consultation time ran out.',
  removed: 'You were removed from the consultation.',
};

export function CallView({ call, host, canConfirmCode, onCodesDiffer, actions, after, onHungUp, endedLine }: Props) {
  const { state } = call;
  const over = state.phase === 'ended' || state.phase === 'failed';
  const live = state.phase === 'in-call';
  // What the others confirmed (the engine clears it on every new round): separate lines, never this page's badge.
  const confirmations = codeConfirmationLines(state);
  const confirmationList = confirmations.length > 0 && (
    <ul className="consult-confirmations" data-testid="consult-confirmations">
      {confirmations.map((line) => (
        <li key={line.participantId} className={line.tone === 'bad' ? 'error' : 'muted'} role={line.tone === 'bad' ? 'alert' : undefined} data-testid="consult-confirmation" data-tone={line.tone}>
          {line.text}
        </li>
      ))}
    </ul>
  );
  return (
    <div className="consult-call" data-testid="consult-call" data-phase={state.phase}>
      <EncryptionStatus state={state} reachedCall={call.reachedCall} />
      {confirmationList}
      {!over && (
        <>
          {(state.phase === 'starting' || state.phase === 'connecting') && (
            <p className="muted consult-progress" data-testid="consult-progress">
              {state.phase === 'starting' ? 'Starting the camera and microphone…' : 'Connecting to the consultation…'}
            </p>
          )}
          {state.error && (
            <p className="error" role="alert" data-testid="consult-problem">{state.error.message}</p>
          )}
          {live && state.codeChecking && (
            <p className="muted consult-code-checking" role="status" data-testid="consult-code-checking">Security code: checking…</p>
          )}
          <CodeCheck state={state} canConfirm={canConfirmCode} onMatch={call.confirmCode} onDiffer={onCodesDiffer} />
          <ParticipantTiles state={state} />
          <div className="consult-bar">
            <DevicePicker localStream={state.localStream} onChoose={call.switchDevices} disabled={!live} />
            <CallControls
              muted={state.muted}
              cameraOff={state.cameraOff}
              host={host}
              live={live}
              onMute={call.setMuted}
              onCamera={call.setCameraOff}
              onHangUp={(end) => {
                onHungUp?.(end);
                void call.hangUp(end);
              }}
            />
            {actions}
          </div>
        </>
      )}
      {over && (
        <div className="consult-over" data-testid="consult-over">
          {state.phase === 'ended' && endedLine !== null && (
            <p data-testid="consult-ended-line">{endedLine ?? ENDED_WORDS[state.endedReason ?? 'left'] ?? 'The consultation has ended.'}</p>
          )}
          {state.phase === 'failed' && state.error && <p data-testid="consult-failure-detail">{state.error.message}</p>}
          {after}
        </div>
      )}
    </div>
  );
}
