/**
 * Mute, camera off and hang up. The host is asked whether to end the call
 * for everyone or only leave it (the others stay); anyone else just leaves.
 * Mute and Camera off are toggle buttons: the same words, pressed (aria-pressed,
 * and drawn filled) while on, so the label never flips meaning.
 */
import { useState } from 'react';
import { Dialog } from '../src/ui/Dialog';

interface Props {
  muted: boolean;
  cameraOff: boolean;
  host: boolean;
  /** Controls of a call still being set up: only hang up works. */
  live: boolean;
  onMute(muted: boolean): void;
  onCamera(off: boolean): void;
  onHangUp(endForEveryone: boolean): void;
}

export function CallControls({ muted, cameraOff, host, live, onMute, onCamera, onHangUp }: Props) {
  const [asking, setAsking] = useState(false);
  return (
    <div className="consult-controls" role="group" aria-label="Call controls">
      <button type="button" className="secondary" aria-pressed={muted} disabled={!live} onClick={() => onMute(!muted)} data-testid="consult-mute">
        Mute
      </button>
      <button type="button" className="secondary" aria-pressed={cameraOff} disabled={!live} onClick={() => onCamera(!cameraOff)} data-testid="consult-camera-off">
        Camera off
      </button>
      <button type="button" className="secondary consult-danger" onClick={() => (host ? setAsking(true) : onHangUp(false))} data-testid="consult-hang-up">
        {host ? 'Hang up…' : 'Leave call'}
      </button>
      {asking && (
        <Dialog title="Hang up" onClose={() => setAsking(false)} testId="consult-hang-up-dialog">
          <p>End the consultation for everyone, or leave it and let the others go on?</p>
          <div className="dialog-actions">
            <button type="button" className="secondary" onClick={() => setAsking(false)} data-autofocus>Cancel</button>
            <button type="button" className="secondary" onClick={() => { setAsking(false); onHangUp(false); }} data-testid="consult-leave">Leave</button>
            <button type="button" className="primary small consult-end" onClick={() => { setAsking(false); onHangUp(true); }} data-testid="consult-end-for-everyone">End for everyone</button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
