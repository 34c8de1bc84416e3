/**
 * The call's RTCPeerConnections through the media server: one publisher
 * (own camera+microphone, send-only) and one subscriber per remote
 * participant (receive-only). Every sender and receiver gets an
 * RTCRtpScriptTransform into the media worker BEFORE any media can flow
 * (senders before the offer is made, receivers as their track appears
 * during the remote offer), so no frame ever leaves or is played without
 * passing the worker. Never creates a sender or receiver without one.
 */
import type { IceServer, Jsep } from '../../shared/consult/signaling-messages';
import type { MediaTransformOptions } from '../../shared/consult/media-worker-protocol';

export function rtcConfiguration(iceServers: readonly IceServer[]): RTCConfiguration {
  return {
    iceServers: iceServers.map((s) => ({ urls: [...s.urls], username: s.username, credential: s.credential })),
    bundlePolicy: 'max-bundle',
    rtcpMuxPolicy: 'require',
  };
}

/** Resolves once ICE gathering is complete (the media server gets every candidate in the one SDP). */
export function iceGatheringComplete(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete' || pc.signalingState === 'closed') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function kindOf(track: MediaStreamTrack): 'audio' | 'video' {
  return track.kind === 'audio' ? 'audio' : 'video';
}

export interface Publisher {
  pc: RTCPeerConnection;
  /** The offer to send as `publish` (e2ee flag set: the room requires it). */
  offer(): Promise<Jsep>;
  accept(answer: Jsep): Promise<void>;
  close(): void;
}

export function createPublisher(config: RTCConfiguration, stream: MediaStream, worker: Worker): Publisher {
  const pc = new RTCPeerConnection(config);
  for (const track of stream.getTracks()) {
    const { sender } = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const options: MediaTransformOptions = { direction: 'send', kind: kindOf(track) };
    sender.transform = new RTCRtpScriptTransform(worker, options);
  }
  return {
    pc,
    async offer() {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc);
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('no local description');
      return { type: 'offer', sdp, e2ee: true };
    },
    async accept(answer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    },
    close: () => pc.close(),
  };
}

export interface Subscriber {
  pc: RTCPeerConnection;
  participantId: string;
  stream: MediaStream;
  /** Apply the media server's offer and return the answer (receivers already carry their transforms). */
  answer(offer: Jsep): Promise<Jsep>;
  close(): void;
}

export function createSubscriber(config: RTCConfiguration, participantId: string, worker: Worker, onTrack: () => void): Subscriber {
  const pc = new RTCPeerConnection(config);
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    const options: MediaTransformOptions = { direction: 'recv', kind: kindOf(event.track), feed: participantId };
    event.receiver.transform = new RTCRtpScriptTransform(worker, options);
    stream.addTrack(event.track);
    onTrack();
  });
  return {
    pc,
    participantId,
    stream,
    async answer(offer) {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
      // A receiver the offer made without a track event still gets its transform before any media can flow.
      for (const { receiver } of pc.getTransceivers()) {
        if (!receiver.transform) {
          const options: MediaTransformOptions = { direction: 'recv', kind: kindOf(receiver.track), feed: participantId };
          receiver.transform = new RTCRtpScriptTransform(worker, options);
        }
      }
      await pc.setLocalDescription(await pc.createAnswer());
      await iceGatheringComplete(pc);
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('no local description');
      return { type: 'answer', sdp, e2ee: true };
    },
    close: () => pc.close(),
  };
}
