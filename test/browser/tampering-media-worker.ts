/**
 * A media worker for the browser test that plays a man in the middle on its
 * own outgoing frames: it is the real worker (renderer/consult-worker, real
 * keys, real key exchange), but after the real SFrame encryption every
 * outgoing frame gets one bit flipped in its authentication tag, as a
 * tampering media server would. Receivers must drop every such frame.
 * Test-only: the production worker has no tampering hook at all.
 */
import { runMediaWorker, type MediaWorkerScope } from '../../renderer/consult-worker/worker-runtime';
import type { EncodedFrame, ScriptTransformer } from '../../renderer/consult-worker/frame-transform';

const real = globalThis as unknown as MediaWorkerScope;

function tampering(transformer: ScriptTransformer): ScriptTransformer {
  const options = transformer.options as { direction?: string };
  if (options.direction !== 'send') return transformer;
  const flip = new TransformStream<EncodedFrame, EncodedFrame>({
    transform(frame, controller) {
      const bytes = new Uint8Array(frame.data.slice(0));
      bytes[bytes.length - 1]! ^= 0x01;
      frame.data = bytes.buffer;
      controller.enqueue(frame);
    },
  });
  void flip.readable.pipeTo(transformer.writable).catch(() => undefined);
  return {
    readable: transformer.readable,
    writable: flip.writable,
    options: transformer.options,
    generateKeyFrame: transformer.generateKeyFrame?.bind(transformer),
  };
}

const inner: MediaWorkerScope = { postMessage: (m) => real.postMessage(m), onmessage: null, onrtctransform: null };
runMediaWorker(inner, {
  now: () => performance.now(),
  schedule: (run, ms) => void setTimeout(run, ms),
  canTransform: 'RTCTransformEvent' in globalThis,
});
real.onmessage = (event) => inner.onmessage?.(event);
real.onrtctransform = (event) => inner.onrtctransform?.({ transformer: tampering(event.transformer) });
