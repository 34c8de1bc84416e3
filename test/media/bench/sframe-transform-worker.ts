/**
 * Benchmark-only media worker: RTCRtpScriptTransform handlers that encrypt
 * every outgoing encoded frame whole with SFrame (shared/sframe, suite 4,
 * empty metadata: what the consultation's media worker does per frame) and
 * decrypt every incoming one. The key comes from the benchmark page in the
 * transform options (a random key per run, never stored); the product's
 * worker (renderer/consult-worker) gets its keys sealed over signaling.
 * Used only by bench/consult-bench.ts to measure the CPU cost of the
 * encryption against the same call without transforms.
 * Counters: `product` numbers video key frames and all other frames in the
 * product's two ranges (renderer/consult-worker/key-ring.ts), so the first
 * byte of every encrypted frame (the SFrame config byte, which Chromium's VP8
 * depacketizer reads as the key-frame flag) says key frame exactly for key
 * frames, as in the product; `single` is one counter from 0 for every frame
 * (what this bench measured before, kept to compare in the same run).
 */
import { deriveSFrameKey, sframeDecrypt, sframeEncrypt, type SFrameKey } from '../../../shared/sframe';
import { KEY_FRAME_COUNTERS, OTHER_FRAME_COUNTERS } from '../../../renderer/consult-worker/key-ring';

interface TransformEvent extends Event {
  transformer: {
    readable: ReadableStream<{ data: ArrayBuffer; type?: string }>;
    writable: WritableStream<{ data: ArrayBuffer }>;
    options: { side: 'send' | 'recv'; kid: string; baseKey: Uint8Array; counters: 'product' | 'single' };
  };
}

const counters = { encrypted: 0, decrypted: 0, failed: 0 };
let ctr = 0n;
const next: { key: bigint; other: bigint } = { key: KEY_FRAME_COUNTERS.first, other: OTHER_FRAME_COUNTERS.first };

function counterFor(counters: 'product' | 'single', type: string | undefined): bigint {
  if (counters === 'single') return ctr++;
  const range = type === 'key' ? 'key' : 'other';
  const value = next[range];
  next[range] = value + 1n;
  return value;
}

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
            frame.data = (await sframeEncrypt(key, counterFor(options.counters, frame.type), empty, new Uint8Array(frame.data))).slice().buffer;
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
