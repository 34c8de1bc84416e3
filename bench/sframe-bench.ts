/**
 * Benchmark of SFrame (shared/sframe, cipher suite 4, as consultation media
 * uses it): encrypt+decrypt of one 720p VP8 frame, p50 and p95, in a
 * Chromium dedicated worker (Debian's Chromium through playwright-core, the
 * launch flags of the media tests), the same kind of worker that transforms
 * the call's frames. shared/sframe is bundled with esbuild into the worker.
 * The baseline, measured in the same worker and interleaved frame by frame:
 * plain WebCrypto AES-128-GCM encrypt+decrypt of the same frame (no header,
 * no key schedule, no AAD). The page is cross-origin isolated so the
 * worker's clock is fine-grained. Frame sizes: a 30 KB delta frame and a
 * 120 KB keyframe (720p VP8 at the top of WebRTC's range, about 7 Mbit/s
 * at 30 fps; a typical 2.5 Mbit/s call averages about 10 KB a frame, also
 * measured). Figures only; run by bench/run-all.ts.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { chromium } from 'playwright-core';
import { mediaChromiumArgs, CHROMIUM_PATH } from '../test/support/media-browser';
import type { SFrameBenchRequest, SFrameBenchSamples } from './sframe-bench-worker';
import { median, ratio, round, stats } from './bench-stats';

const ROOT = join(import.meta.dirname, '..');

const PAGE = `<!doctype html><meta charset="utf-8"><title>SFrame bench</title><script>
window.runSFrameBench = (request) => new Promise((resolve, reject) => {
  const worker = new Worker('/sframe-bench-worker.js');
  worker.onmessage = (event) => { worker.terminate(); event.data.ok ? resolve(event.data.samples) : reject(new Error(event.data.error)); };
  worker.onerror = (event) => reject(new Error(event.message || 'worker failed'));
  worker.postMessage(request);
});
</script>`;

function workerBundle(): string {
  return buildSync({
    entryPoints: [join(ROOT, 'bench', 'sframe-bench-worker.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
  }).outputFiles[0]!.text;
}

export async function runSFrameBench(quick: boolean) {
  const scale = quick ? 0.2 : 1;
  const request: SFrameBenchRequest = {
    warmup: 30,
    deriveIterations: Math.round(200 * scale),
    frames: [
      { name: 'delta_30kb', bytes: 30 * 1024, iterations: Math.round(2000 * scale) },
      { name: 'keyframe_120kb', bytes: 120 * 1024, iterations: Math.round(500 * scale) },
      { name: 'typical_delta_10kb', bytes: 10 * 1024, iterations: Math.round(2000 * scale) },
    ],
  };
  const script = workerBundle();
  // Cross-origin isolation gives the worker a 5 µs clock instead of a coarsened 100 µs one.
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store' };
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...isolation }).end(PAGE);
    else if (req.url === '/sframe-bench-worker.js') res.writeHead(200, { 'content-type': 'text/javascript', ...isolation }).end(script);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: mediaChromiumArgs(), headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`http://localhost:${port}/`);
    const samples = (await page.evaluate(
      (r) => (window as unknown as { runSFrameBench(r: unknown): Promise<unknown> }).runSFrameBench(r),
      request,
    )) as SFrameBenchSamples;
    const frames = Object.fromEntries(
      samples.frames.map((f) => {
        const sframe = stats(f.sframe_ms);
        const baseline = stats(f.baseline_ms);
        const framed = stats(f.framed_baseline_ms);
        return [
          f.name,
          {
            plaintext_bytes: f.bytes,
            sframe_overhead_bytes: f.frame_overhead_bytes,
            sframe,
            baseline_aes_gcm: baseline,
            ratio_p50: ratio(sframe.p50_ms, baseline.p50_ms),
            ratio_p95: ratio(sframe.p95_ms, baseline.p95_ms),
            baseline_aes_gcm_with_header_copy: framed,
            ratio_p50_to_header_copy_baseline: ratio(sframe.p50_ms, framed.p50_ms),
            sframe_mb_per_s_p50: round((2 * f.bytes) / 1e6 / (sframe.p50_ms / 1000), 1),
          },
        ];
      }),
    );
    return {
      where: 'Chromium dedicated worker (playwright-core, /usr/bin/chromium), shared/sframe bundled with esbuild',
      browser: samples.userAgent.match(/(?:Headless)?Chrome\/[\d.]+/)?.[0] ?? samples.userAgent,
      cross_origin_isolated: samples.crossOriginIsolated,
      cipher_suite: 'AES_128_GCM_SHA256_128 (4), empty metadata',
      measured:
        'one frame: sframeEncrypt then sframeDecrypt (header, nonce, AAD, copies included); baseline: crypto.subtle AES-128-GCM encrypt then decrypt of the same frame; ' +
        'second baseline: the same plus the copy of a header in front of the ciphertext that any frame format needs; interleaved, warm-up discarded',
      frames: 'VP8 720p: 30 KB delta and 120 KB keyframe (upper end, ~7 Mbit/s at 30 fps), 10 KB typical delta (~2.5 Mbit/s)',
      ...frames,
      key_derivation: { ...stats(samples.derive_ms), median_ms: median(samples.derive_ms), note: 'deriveSFrameKey once per sender per epoch, not per frame' },
    };
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
