/**
 * Decodes recorded frames with Chromium's own decoders (WebCodecs
 * VideoDecoder 'vp8', AudioDecoder 'opus') in a headless page and counts
 * what comes out. This is how the recording tests ask "would a player make
 * anything of these bytes?". It only counts and summarises; it never keeps
 * decoded pictures or sound.
 */
import type { Browser, Page } from 'playwright-core';

export interface DecodeCount {
  /** Frames the decoder output. */
  decoded: number;
  /** Frames (or decoders) that ended in an error. */
  errors: number;
  /** Frames fed. */
  fed: number;
  /** For audio: the decoded samples (first channel, concatenated), to compare two decodes. */
  samples?: number[];
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/*
 * The page side, as plain JavaScript: tsx's keepNames would wrap named
 * functions in a helper (__name) that a page.evaluate'd function cannot see.
 * 'stream': one decoder fed the frames in order, key frames marked as the
 * bitstream says (a decoder that errors is replaced and waits for the next
 * key frame), as a player would. 'each-as-key': a fresh decoder per frame,
 * each offered as a key frame, the most generous reading of the bytes.
 */
const PAGE_SCRIPT = `
(() => {
  const bytes = (b) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
  const settle = async (d) => { try { await d.flush(); } catch { /* counted by the error callback */ } };
  window.decodeVp8 = async (input, mode) => {
    const count = { decoded: 0, errors: 0, fed: input.length };
    const make = () => {
      const d = new VideoDecoder({ output: (frame) => { count.decoded++; frame.close(); }, error: () => { count.errors++; } });
      d.configure({ codec: 'vp8' });
      return d;
    };
    if (mode === 'each-as-key') {
      for (const [i, f] of input.entries()) {
        const d = make();
        try { d.decode(new EncodedVideoChunk({ type: 'key', timestamp: i, data: bytes(f.data) })); } catch { count.errors++; }
        await settle(d);
        if (d.state !== 'closed') d.close();
      }
      return count;
    }
    let d = make();
    let waitingForKey = true;
    for (const [i, f] of input.entries()) {
      if (d.state === 'closed') { d = make(); waitingForKey = true; }
      if (waitingForKey && !f.key) continue;
      waitingForKey = false;
      try { d.decode(new EncodedVideoChunk({ type: f.key ? 'key' : 'delta', timestamp: i * 33333, data: bytes(f.data) })); } catch { count.errors++; }
      // a flush would demand a key frame next: wait for the queue to drain instead
      while (d.state === 'configured' && d.decodeQueueSize > 8) await new Promise((r) => d.addEventListener('dequeue', r, { once: true }));
    }
    await settle(d);
    return count;
  };
  window.decodeOpus = async (input) => {
    const count = { decoded: 0, errors: 0, fed: input.length, samples: [] };
    const make = () => {
      const d = new AudioDecoder({
        output: (data) => {
          count.decoded++;
          const channel = new Float32Array(data.numberOfFrames);
          data.copyTo(channel, { planeIndex: 0, format: 'f32-planar' });
          for (const s of channel) count.samples.push(s);
          data.close();
        },
        error: () => { count.errors++; },
      });
      d.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 2 });
      return d;
    };
    let d = make();
    for (const [i, p] of input.entries()) {
      if (d.state === 'closed') d = make();
      try { d.decode(new EncodedAudioChunk({ type: 'key', timestamp: i * 20000, data: bytes(p) })); } catch { count.errors++; }
      while (d.state === 'configured' && d.decodeQueueSize > 8) await new Promise((r) => d.addEventListener('dequeue', r, { once: true }));
    }
    await settle(d);
    return count;
  };
})();
`;

/** A blank page on a secure origin (WebCodecs needs one), no network, with the decoding functions. */
export async function openDecoderPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.route('http://localhost/**', (route) => route.fulfill({ body: '<!doctype html><title>decoder</title>', contentType: 'text/html' }));
  await page.goto('http://localhost/decoder');
  await page.addScriptTag({ content: PAGE_SCRIPT });
  return page;
}

type PageWindow = { decodeVp8(input: unknown, mode: string): Promise<DecodeCount>; decodeOpus(input: unknown): Promise<DecodeCount> };

/** VP8 frames through Chromium's decoder ('stream' as a player would, or 'each-as-key'). */
export function decodeVp8(page: Page, frames: readonly { data: Uint8Array; key: boolean }[], mode: 'stream' | 'each-as-key'): Promise<DecodeCount> {
  const input = frames.map((f) => ({ data: base64(f.data), key: f.key }));
  return page.evaluate(([input, mode]) => (globalThis as unknown as PageWindow).decodeVp8(input, mode), [input, mode] as const);
}

/** Opus packets through one AudioDecoder (replaced after an error); with the decoded samples of the first channel. */
export function decodeOpus(page: Page, packets: readonly Uint8Array[]): Promise<DecodeCount> {
  const input = packets.map(base64);
  return page.evaluate((input) => (globalThis as unknown as PageWindow).decodeOpus(input), input);
}
