/**
 * The people in a call as video tiles: the picture (own camera muted, so
 * nobody hears themselves), the name and role, "device verified by the
 * hospital directory" for a clinician whose call key the directory vouches
 * for, and "Cannot decrypt media from <name>" when that participant's frames
 * do not decrypt (they are dropped, never played).
 */
import { useEffect, useRef } from 'react';
import type { CallState, ParticipantState } from './call-state';
import { ROLE_WORDS } from './call-words';

function Video({ stream, self, label }: { stream: MediaStream | null; self: boolean; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    video.srcObject = stream;
    if (stream) void video.play().catch(() => undefined);
  }, [stream]);
  return <video ref={ref} className="consult-video" autoPlay playsInline muted={self} aria-label={label} data-testid={self ? 'consult-self-video' : 'consult-remote-video'} />;
}

function Tile({ p, localStream, cameraOff }: { p: ParticipantState; localStream: MediaStream | null; cameraOff: boolean }) {
  const stream = p.self ? localStream : p.stream;
  const name = p.self ? 'You' : p.displayName;
  return (
    <li className={`consult-tile${p.decrypting ? '' : ' consult-tile-failing'}`} data-testid="consult-tile" data-participant-role={p.role}>
      {stream && !(p.self && cameraOff) ? (
        <Video stream={stream} self={p.self} label={p.self ? 'Your own camera' : `Video of ${name}`} />
      ) : (
        <div className="consult-video consult-video-empty" aria-hidden="true">{p.self && cameraOff ? 'Camera off' : 'No picture yet'}</div>
      )}
      <div className="consult-tile-caption">
        <span className="consult-tile-name">{name}</span>
        <span className="consult-tile-role">{ROLE_WORDS[p.role]}</span>
        {p.verifiedDevice && <span className="consult-tile-verified" data-testid="consult-verified-device">Device verified by the hospital directory</span>}
        {!p.self && !p.decrypting && (
          <span className="consult-tile-problem" role="alert" data-testid="consult-cannot-decrypt">Cannot decrypt media from {p.displayName}</span>
        )}
        {p.codeConfirmed && <span className="consult-tile-confirmed">Confirmed the code</span>}
      </div>
    </li>
  );
}

export function ParticipantTiles({ state }: { state: CallState }) {
  if (state.participants.length === 0) return null;
  // Own tile first, then the others in the order the engine gives.
  const ordered = [...state.participants].sort((a, b) => Number(b.self) - Number(a.self));
  return (
    <ul className="consult-tiles" aria-label="People in this call" data-testid="consult-tiles">
      {ordered.map((p) => (
        <Tile key={p.participantId} p={p} localStream={state.localStream} cameraOff={state.cameraOff} />
      ))}
    </ul>
  );
}
