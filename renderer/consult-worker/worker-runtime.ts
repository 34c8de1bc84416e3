/**
 * Wires a MediaWorkerSession to a dedicated worker's global scope: page
 * messages in, replies out, and every RTCRtpScriptTransform the page attaches
 * (the `rtctransform` event) through the frame pipeline. When the own epoch
 * changes, the video send transforms are asked for a key frame so that
 * receivers with the new key can start decoding at once.
 *
 * Typed structurally, so the entry file needs no WebWorker typings and tests
 * can wrap the scope. Never post anything the session did not produce.
 */
import { MediaWorkerSession } from './media-worker-session';
import { runFrameTransform, type ScriptTransformer } from './frame-transform';
import type { WorkerToPage } from '../../shared/consult/media-worker-protocol';

export interface MediaWorkerScope {
  postMessage(message: WorkerToPage): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onrtctransform: ((event: { transformer: ScriptTransformer }) => void) | null;
}

export interface MediaWorkerRuntime {
  now(): number;
  schedule(run: () => void, delayMs: number): void;
  /** Whether this worker has the encoded-transform API (RTCTransformEvent). */
  canTransform: boolean;
}

export function runMediaWorker(scope: MediaWorkerScope, runtime: MediaWorkerRuntime): MediaWorkerSession {
  const videoSenders = new Set<ScriptTransformer>();
  const session = new MediaWorkerSession({
    post: (message) => {
      scope.postMessage(message);
      if (message.type === 'sealed-keys') {
        for (const sender of videoSenders) void sender.generateKeyFrame?.().catch(() => undefined);
      }
    },
    now: runtime.now,
    schedule: runtime.schedule,
    canTransform: runtime.canTransform,
  });
  scope.onmessage = (event) => {
    void session.receive(event.data);
  };
  scope.onrtctransform = (event) => {
    const transformer = event.transformer;
    void runFrameTransform(transformer, session, { now: runtime.now, videoSender: (t) => videoSenders.add(t) }).finally(() => videoSenders.delete(transformer));
  };
  return session;
}
