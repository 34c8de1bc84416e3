/**
 * `npm run bench -- --only consult`: the consultation's media cost, measured
 * through the real Janus (and coturn running beside it) in a private network
 * namespace (test/support/test-network.sh; Janus ignores loopback):
 *  - CPU of a one-way call (publisher page -> Janus -> subscriber page, fake
 *    camera 640x480@30 and microphone, VP8/Opus) with every frame SFrame-
 *    encrypted whole in RTCRtpScriptTransform workers (shared/sframe, suite
 *    4), against the same call without transforms, alternating, in one run:
 *    Chromium's CPU time (user+sys of every Chromium process this bench
 *    started, from /proc) over a fixed window after the first frame; medians
 *    and the encrypted/plain ratio (target <= 1.1). Janus's own CPU and the
 *    frames decoded in the window are reported beside it, so equal work is
 *    visible. Two encrypted variants: `encrypted` numbers frames as the
 *    product's worker does (video key frames and all other frames in two
 *    counter ranges, so the encrypted frame's first byte still reads as the
 *    right VP8 key-frame flag); `encrypted_single_counter` is this bench's
 *    earlier worker (one counter from 0 for every frame), kept to compare
 *    in the same run. Key frames encoded/decoded and picture loss
 *    indications are reported beside the CPU.
 *  - time from "start" (the publisher opens its devices) to the first frame
 *    painted at the subscriber, encrypted and plain, p50/p95 over the runs:
 *    the baseline of the figure below (bench-only worker, no signaling).
 *  - the PRODUCT's time from the clinician's "Start" in the chart's "Start
 *    consultation" dialog to the first frame decrypted at the patient's join
 *    page, through the desktop renderer's call engine and media worker, the
 *    backend, Janus and coturn (consult-start-bench.ts), after the CPU runs.
 * The bench spawns itself inside the namespace (`--child`) and reads one JSON
 * object back. Never logs a key; the key is random per run.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { median, ratio, round, stats } from './bench-stats';
import { measureStartToFirstFrame } from './consult-start-bench';

const ROOT = resolve(process.env.CLINICIAN_TEST_ROOT ?? process.cwd());

export async function runConsultBench(quick: boolean): Promise<unknown> {
  const args = ['test/support/test-network.sh', process.execPath, '--import', 'tsx', 'bench/consult-bench.ts', '--child', ...(quick ? ['--quick'] : [])];
  const child = spawn('bash', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) return { error: `consult bench failed (exit ${code})` };
  return JSON.parse(line) as unknown;
}

/** CPU seconds (user+sys, from /proc/<pid>/stat) of the descendants of `root` whose command matches. */
function cpuSeconds(root: number, match: RegExp): number {
  const parent = new Map<number, number>();
  const stat = new Map<number, { comm: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const comm = text.slice(text.indexOf('(') + 1, close);
      const fields = text.slice(close + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
      stat.set(Number(name), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      /* gone meanwhile */
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, s] of stat) if (descends(pid) && match.test(s.comm)) ticks += s.ticks;
  return ticks / 100; // USER_HZ
}

function pageBundle(): string {
  const worker = buildSync({ entryPoints: [join(ROOT, 'test/media/bench/sframe-transform-worker.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome120' }).outputFiles[0]!.text;
  return buildSync({
    entryPoints: [join(ROOT, 'test/media/bench/call-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    define: { WORKER_SOURCE: JSON.stringify(worker) },
  }).outputFiles[0]!.text;
}

type Variant = 'encrypted' | 'encrypted_single_counter' | 'plain';

interface Run {
  variant: Variant;
  encrypted: boolean;
  firstFrameMs: number;
  chromiumCpuS: number;
  janusCpuS: number;
  framesDecoded: number;
  framesEncoded: number;
  decryptFailures: number;
  keyFramesEncoded: number;
  keyFramesDecoded: number;
  pliSentBySubscriber: number;
}

async function child(quick: boolean): Promise<void> {
  const { startMediaServers } = await import('../build/media/media-servers');
  const { janusMediaServer } = await import('../server/signaling/media-server');
  const mediaAddress = process.env.CLINICIAN_MEDIA_ADDRESS;
  if (!mediaAddress) throw new Error('run inside test/support/test-network.sh');
  const workDir = mkdtempSync(join(tmpdir(), 'consult-bench-'));
  const servers = await startMediaServers({ mediaAddress, workDir });
  const media = janusMediaServer({ url: servers.janusUrl, apiSecret: servers.janusApiSecret });
  const excluded = ['localhost', '127.0.0.1', mediaAddress, process.env.CLINICIAN_CLIENT_ADDRESS].filter(Boolean).map((h) => `EXCLUDE ${h}`).join(' , ');
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', `--host-resolver-rules=MAP * ~NOTFOUND , ${excluded}`],
  });
  const script = pageBundle();
  const windowMs = quick ? 4000 : 10_000;
  const warmMs = 2000;
  const rounds = quick ? 1 : 3;
  const runs: Run[] = [];
  const open = async (): Promise<Page> => {
    const page = await browser.newPage();
    await page.route('http://localhost/**', (route) => route.fulfill({ body: '<!doctype html><title>consult bench</title><body></body>', contentType: 'text/html' }));
    await page.goto('http://localhost/bench');
    await page.addScriptTag({ content: script });
    return page;
  };
  type BenchWindow = { bench: Record<string, (...a: unknown[]) => Promise<unknown>> };
  const call = <T>(page: Page, fn: string, ...args: unknown[]) => page.evaluate(([fn, args]) => (globalThis as unknown as BenchWindow).bench[fn as string]!(...(args as unknown[])), [fn, args] as const) as Promise<T>;
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms)); // a measurement window, not a stand-in for an event
  try {
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const variant of ['encrypted', 'plain', 'encrypted_single_counter'] as const) {
        const encrypted = variant !== 'plain';
        const callId = randomUUID();
        const options = { encrypted, kid: String(0x100 + 1), baseKey: [...randomBytes(16)], counters: variant === 'encrypted_single_counter' ? 'single' : 'product' };
        await media.openRoom(callId);
        const [publisher, subscriber] = [await open(), await open()];
        const started = Date.now();
        const offer = await call<{ type: 'offer'; sdp: string; e2ee: true }>(publisher, 'publish', options);
        await call(publisher, 'accept', await media.publish(callId, 'bench-publisher', offer));
        // Janus answers 428 (no such feed) until it has set the publisher's media up, a few ms after
        // the browser sees 'connected'; the MediaServer seam has no event for that, so ask again.
        let subOffer: Awaited<ReturnType<typeof media.subscribe>> | undefined;
        for (let attempt = 0; !subOffer; attempt++) {
          try {
            subOffer = await media.subscribe(callId, 'bench-subscriber', 'bench-publisher');
          } catch (error) {
            if (attempt >= 40) throw error;
            await wait(50);
          }
        }
        const answer = await call<{ type: 'answer'; sdp: string }>(subscriber, 'subscribe', options, subOffer);
        await media.answer(callId, 'bench-subscriber', 'bench-publisher', answer);
        const firstFrame = await call<number>(subscriber, 'firstFrame');
        await wait(warmMs);
        const cpu0 = cpuSeconds(process.pid, /chrom/i);
        const janus0 = cpuSeconds(process.pid, /janus/i);
        type Stats = { framesDecoded: number; framesEncoded: number; keyFramesEncoded: number; keyFramesDecoded: number; pliCount: number };
        const s0 = await call<Stats>(subscriber, 'stats');
        const p0 = await call<Stats>(publisher, 'stats');
        await wait(windowMs);
        const cpu1 = cpuSeconds(process.pid, /chrom/i);
        const janus1 = cpuSeconds(process.pid, /janus/i);
        const s1 = await call<Stats>(subscriber, 'stats');
        const p1 = await call<Stats>(publisher, 'stats');
        const counters = await call<Record<string, number> | null>(subscriber, 'workerCounters');
        runs.push({
          variant,
          encrypted,
          firstFrameMs: firstFrame - started,
          chromiumCpuS: round(cpu1 - cpu0, 2),
          janusCpuS: round(janus1 - janus0, 2),
          framesDecoded: s1.framesDecoded - s0.framesDecoded,
          framesEncoded: p1.framesEncoded - p0.framesEncoded,
          decryptFailures: counters?.failed ?? 0,
          keyFramesEncoded: p1.keyFramesEncoded - p0.keyFramesEncoded,
          keyFramesDecoded: s1.keyFramesDecoded - s0.keyFramesDecoded,
          pliSentBySubscriber: s1.pliCount - s0.pliCount,
        });
        await Promise.all([publisher.close(), subscriber.close()]);
        await media.leave(callId, 'bench-publisher').catch(() => undefined);
        await media.leave(callId, 'bench-subscriber').catch(() => undefined);
        await media.closeRoom(callId).catch(() => undefined);
      }
    }
  } finally {
    await browser.close();
    await servers.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const of = (variant: Variant) => runs.filter((r) => r.variant === variant);
  const summary = (encrypted: Variant) => ({
    chromium_cpu_s_median: median(of(encrypted).map((r) => r.chromiumCpuS)),
    janus_cpu_s_median: median(of(encrypted).map((r) => r.janusCpuS)),
    frames_decoded_median: median(of(encrypted).map((r) => r.framesDecoded)),
    first_frame_ms_p50: median(of(encrypted).map((r) => r.firstFrameMs)),
    first_frame_ms: stats(of(encrypted).map((r) => r.firstFrameMs)),
    key_frames_encoded_median: median(of(encrypted).map((r) => r.keyFramesEncoded)),
    key_frames_decoded_median: median(of(encrypted).map((r) => r.keyFramesDecoded)),
    pli_sent_by_subscriber_median: median(of(encrypted).map((r) => r.pliSentBySubscriber)),
  });
  const encrypted = summary('encrypted');
  const plain = summary('plain');
  const single = summary('encrypted_single_counter');
  // The product's figure after the CPU runs (their browser and servers are gone), so neither disturbs the other.
  const product = await measureStartToFirstFrame(quick ? 2 : 5);
  process.stdout.write(
    JSON.stringify({
      what: 'one-way call publisher -> Janus VideoRoom -> subscriber, fake camera 640x480@30 + microphone, in one Chromium; encrypted = SFrame suite 4 on every frame in RTCRtpScriptTransform workers, counters in the product key-frame/other ranges; encrypted_single_counter = the same with one counter from 0 (this bench before 2026-11-26); plain = the same call without transforms',
      window_s: windowMs / 1000,
      runs_per_variant: rounds,
      encrypted,
      encrypted_single_counter: single,
      plain,
      cpu_ratio_single_counter_to_plain: ratio(single.chromium_cpu_s_median, plain.chromium_cpu_s_median),
      cpu_ratio_encrypted_to_plain: ratio(encrypted.chromium_cpu_s_median, plain.chromium_cpu_s_median),
      cpu_target_max_ratio: 1.1,
      cpu_within_target: (ratio(encrypted.chromium_cpu_s_median, plain.chromium_cpu_s_median) ?? Infinity) <= 1.1,
      first_frame_ratio_encrypted_to_plain: ratio(encrypted.first_frame_ms_p50, plain.first_frame_ms_p50),
      first_frame_baseline: 'encrypted/plain first_frame_ms: publisher opens its devices -> first frame painted at the subscriber, bench-only worker, no signaling',
      start_consultation_to_first_decrypted_frame: product,
      runs,
    }) + '\n',
  );
}

if (process.argv.includes('--child')) {
  child(process.argv.includes('--quick')).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`consult bench: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
