/// <reference lib="dom" />
/**
 * The page script of the call-engine browser tests: the real call engine
 * and socket transport (renderer/consult), bundled by esbuild as an ES
 * module so the engine's `new URL('../consult-worker/media-worker.ts',
 * import.meta.url)` resolves to the bundled media worker the test server
 * serves at that path. Exposes window.__call for the test to drive; it
 * keeps every CallState it was given (streams reduced to track counts).
 */
import { startCall, type CallHandle } from '../../renderer/consult/call-engine';
import { socketTransport } from '../../renderer/consult/socket-transport';
import type { CallState } from '../../renderer/consult/call-state';

interface PageCall {
  start(callId: string, token: string, url?: string): Promise<void>;
  handle: CallHandle | null;
  states: CallState[];
  latest(): unknown;
}

function summary(state: CallState): unknown {
  return {
    ...state,
    localStream: state.localStream ? state.localStream.getTracks().length : null,
    participants: state.participants.map((p) => ({ ...p, stream: p.stream ? p.stream.getTracks().map((t) => t.kind).sort() : null })),
  };
}

const call: PageCall = {
  handle: null,
  states: [],
  async start(callId, token, url) {
    call.handle = await startCall({
      callId,
      transport: socketTransport({ callId, token, ...(url ? { url } : {}) }),
      devices: {},
      decryptCheckIntervalMs: 250,
      onState: (state) => {
        call.states.push(state);
        for (const p of state.participants) {
          if (!p.stream) continue;
          // Play every remote stream, as the UI does (autoplay allowed by the launch flags).
          const id = `remote-${p.participantId}`;
          let video = document.getElementById(id) as HTMLVideoElement | null;
          if (!video) {
            video = document.createElement('video');
            video.id = id;
            video.autoplay = true;
            video.muted = true;
            video.playsInline = true;
            document.body.append(video);
          }
          if (video.srcObject !== p.stream) video.srcObject = p.stream;
        }
      },
    });
  },
  latest() {
    const state = call.states[call.states.length - 1];
    return state ? summary(state) : null;
  },
};

(window as unknown as { __call: PageCall }).__call = call;
