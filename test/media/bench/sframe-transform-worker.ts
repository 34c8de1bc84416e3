/**
 * Benchmark-only media worker: RTCRtpScriptTransform handlers that encrypt
 * every outgoing encoded frame whole with SFrame (shared/sframe, suite 4,
 * empty metadata: what the consultation's media worker does per frame) and
 * decrypt every incoming one. The key comes from the benchmark page in the
 * transform options (a random key per run, never stored); the product's
 * worker (renderer/consult-worker) gets its keys sealed over signaling.
 * Used only by bench/consult-bench.ts to measure the CPU cost of the
 * encryption against the same call without transforms.
 */
import { deriveSFrameKey, sframeDecrypt, sframeEncrypt, type SFrameKey } from '../../../shared/sframe';

interface TransformEvent extends Event {
  transformer: { readable: ReadableStream<{ data: ArrayBuffer }>; writable: WritableStream<{ data: ArrayBuffer }>; options: { side: 'send' | 'recv'; kid: string; baseKey: Uint8Array } };
}

const counters = { encrypted: 0, decrypted: 0, failed: 0 };
let ctr = 0n;

self.addEventListener('rtctransform', (event) => {
  const { readable, writable, options } = (event as TransformEvent).transformer;
  const keyPromise: Promise<SFrameKey> = deriveSFrameKey(4, BigInt(options.kid), options.baseKey);
  const empty = new Uint8Array();
  void readable
    .pipeThrough(
      new TransformStream({
        async transform(frame, controller) {
          const key = await keyPromise;
          if (options.side === 'send') {
            frame.data = (await sframeEncrypt(key, ctr++, empty, new Uint8Array(frame.data))).slice().buffer;
            counters.encrypted++;
            controller.enqueue(frame);
          } else {
            try {
              frame.data = (await sframeDecrypt(() => key, empty, new Uint8Array(frame.data))).plaintext.slice().buffer;
              counters.decrypted++;
              controller.enqueue(frame);
            } catch {
              counters.failed++;
            }
          }
        },
      }),
    )
    .pipeTo(writable);
});

self.addEventListener('message', () => self.postMessage({ ...counters }));
