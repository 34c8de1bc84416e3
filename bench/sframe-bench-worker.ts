/**
 * The SFrame benchmark's dedicated worker (bundled by bench/sframe-bench.ts
 * and run in Chromium, where the consultation's media worker runs): for each
 * frame size, SFrame encrypt+decrypt of one frame with shared/sframe (suite
 * 4) and, interleaved with it so all see the same machine noise, the
 * baseline: plain WebCrypto AES-128-GCM encrypt+decrypt of the same frame,
 * and the same with a header copied in front (what any framing costs).
 * Figures only; the frames are random bytes (AES cost does not depend on
 * content) and no key leaves the worker.
 */
import { deriveSFrameKey, sframeDecrypt, sframeEncrypt, type SFrameKey } from '../shared/sframe/index';

export interface SFrameBenchRequest {
  frames: Array<{ name: string; bytes: number; iterations: number }>;
  warmup: number;
  deriveIterations: number;
}

export interface SFrameBenchSamples {
  crossOriginIsolated: boolean;
  userAgent: string;
  derive_ms: number[];
  frames: Array<{ name: string; bytes: number; sframe_ms: number[]; baseline_ms: number[]; framed_baseline_ms: number[]; frame_overhead_bytes: number }>;
}

function randomFrame(bytes: number): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(bytes);
  for (let offset = 0; offset < bytes; offset += 65536) crypto.getRandomValues(frame.subarray(offset, Math.min(bytes, offset + 65536)));
  return frame;
}

/** The dedicated worker's global scope, typed here because the root tsconfig has no DOM library. */
const scope = globalThis as unknown as {
  crossOriginIsolated: boolean;
  postMessage(message: unknown): void;
  onmessage: ((event: { data: SFrameBenchRequest }) => void) | null;
};

async function run(request: SFrameBenchRequest): Promise<SFrameBenchSamples> {
  const baseKey = randomFrame(16);
  const derive_ms: number[] = [];
  let key: SFrameKey | undefined;
  for (let i = 0; i < request.deriveIterations; i += 1) {
    const t0 = performance.now();
    key = await deriveSFrameKey(4, 0x0101n + BigInt(i), baseKey);
    derive_ms.push(performance.now() - t0);
  }
  key = await deriveSFrameKey(4, 0x0201n, baseKey);
  const sframeKey = key;
  const keyFor = (kid: bigint): SFrameKey | undefined => (kid === sframeKey.kid ? sframeKey : undefined);
  const metadata = new Uint8Array(0);
  const gcmKey = await crypto.subtle.importKey('raw', randomFrame(16), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  const iv = randomFrame(12);
  let ctr = 0n;

  const frames: SFrameBenchSamples['frames'] = [];
  for (const spec of request.frames) {
    const plaintext = randomFrame(spec.bytes);
    const sframe_ms: number[] = [];
    const baseline_ms: number[] = [];
    const framed_baseline_ms: number[] = [];
    let overhead = 0;
    const kinds = ['sframe', 'baseline', 'framed'] as const;
    for (let i = -request.warmup; i < spec.iterations; i += 1) {
      // Rotate which goes first, so none always runs on a warmer cache.
      const start = ((i % 3) + 3) % 3;
      for (const which of [kinds[start]!, kinds[(start + 1) % 3]!, kinds[(start + 2) % 3]!]) {
        const t0 = performance.now();
        if (which === 'sframe') {
          ctr += 1n;
          const frame = await sframeEncrypt(sframeKey, ctr, metadata, plaintext);
          const opened = await sframeDecrypt(keyFor, metadata, frame);
          const t1 = performance.now();
          if (opened.plaintext.length !== plaintext.length) throw new Error('SFrame round trip lost bytes');
          overhead = frame.length - plaintext.length;
          if (i >= 0) sframe_ms.push(t1 - t0);
        } else if (which === 'framed') {
          // The least any frame format costs over bare AES-GCM: a 5-byte header copied in front
          // of the ciphertext (WebCrypto cannot write at an offset), decrypted from a view.
          iv[11] = i & 0xff;
          const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, gcmKey, plaintext);
          const frame = new Uint8Array(5 + sealed.byteLength);
          frame.set(iv.subarray(0, 5));
          frame.set(new Uint8Array(sealed), 5);
          const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 128 }, gcmKey, frame.subarray(5));
          const t1 = performance.now();
          if (opened.byteLength !== plaintext.length) throw new Error('baseline round trip lost bytes');
          if (i >= 0) framed_baseline_ms.push(t1 - t0);
        } else {
          iv[11] = i & 0xff;
          const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, gcmKey, plaintext);
          const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 128 }, gcmKey, sealed);
          const t1 = performance.now();
          if (opened.byteLength !== plaintext.length) throw new Error('baseline round trip lost bytes');
          if (i >= 0) baseline_ms.push(t1 - t0);
        }
      }
    }
    frames.push({ name: spec.name, bytes: spec.bytes, sframe_ms, baseline_ms, framed_baseline_ms, frame_overhead_bytes: overhead });
  }
  return { crossOriginIsolated: scope.crossOriginIsolated, userAgent: navigator.userAgent, derive_ms, frames };
}

scope.onmessage = (event) => {
  run(event.data).then(
    (samples) => scope.postMessage({ ok: true, samples }),
    (error: unknown) => scope.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : 'failed' }),
  );
};
