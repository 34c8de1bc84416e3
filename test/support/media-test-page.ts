/**
 * A bare WebRTC test page for media-server tests: served from
 * http://localhost (a secure context), it publishes the fake camera and
 * microphone or subscribes to a feed through RTCPeerConnection with complete
 * (non-trickle) SDPs, every frame passing through a pass-through
 * RTCRtpScriptTransform worker (so a jsep's e2ee flag is honest about the
 * transform being in place; the real SFrame encryption is the consultation's
 * own code, tested elsewhere). Must never load anything from the network.
 */
import { createServer, type Server } from 'node:http';
import type { Page } from 'playwright-core';

const PAGE = `<!doctype html><meta charset="utf-8"><title>media test</title><video id="v" autoplay playsinline muted></video>
<script>
const workerUrl = URL.createObjectURL(new Blob([
  'onrtctransform = (e) => { const t = e.transformer; t.readable.pipeTo(t.writable); };'
], { type: 'text/javascript' }));
const worker = new Worker(workerUrl);
let pc;
function complete(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
  });
}
window.mediaTest = {
  async publishOffer(config) {
    pc = new RTCPeerConnection(config);
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
    for (const track of stream.getTracks()) {
      const sender = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] }).sender;
      sender.transform = new RTCRtpScriptTransform(worker, { side: 'send' });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await complete(pc);
    return pc.localDescription.sdp;
  },
  async applyAnswer(sdp) {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  },
  async subscribeAnswer(config, offerSdp) {
    pc = new RTCPeerConnection(config);
    const video = document.getElementById('v');
    window.firstFrame = new Promise((resolve) => {
      pc.addEventListener('track', (event) => {
        event.receiver.transform = new RTCRtpScriptTransform(worker, { side: 'receive' });
        if (event.track.kind === 'video') {
          video.srcObject = new MediaStream([event.track]);
          video.requestVideoFrameCallback(() => resolve(true));
        }
      });
    });
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await complete(pc);
    return pc.localDescription.sdp;
  },
  async stats() {
    const report = await pc.getStats();
    const out = { framesDecoded: 0, audioPackets: 0, localCandidateTypes: [] };
    let pairId;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioPackets += s.packetsReceived || 0;
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId && report.get(pairId);
    if (pair) out.localCandidateTypes.push(report.get(pair.localCandidateId).candidateType);
    return out;
  },
  close() { if (pc) pc.close(); },
};
</script>`;

export interface MediaTestPageServer {
  url: string;
  close(): Promise<void>;
}

export async function serveMediaTestPage(): Promise<MediaTestPageServer> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://localhost:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** RTCConfiguration for the page. */
export interface PageRtcConfig {
  iceServers?: { urls: string[]; username?: string; credential?: string }[];
  iceTransportPolicy?: 'all' | 'relay';
}

export const publishOffer = (page: Page, config: PageRtcConfig) =>
  page.evaluate((c) => (window as unknown as { mediaTest: { publishOffer(c: unknown): Promise<string> } }).mediaTest.publishOffer(c), config);
export const applyAnswer = (page: Page, sdp: string) =>
  page.evaluate((s) => (window as unknown as { mediaTest: { applyAnswer(s: string): Promise<void> } }).mediaTest.applyAnswer(s), sdp);
export const subscribeAnswer = (page: Page, config: PageRtcConfig, offerSdp: string) =>
  page.evaluate(
    ([c, s]) => (window as unknown as { mediaTest: { subscribeAnswer(c: unknown, s: string): Promise<string> } }).mediaTest.subscribeAnswer(c, s),
    [config, offerSdp] as const,
  );
/** Resolves when the subscriber's video element presents its first frame (an event, not a poll); rejects if none comes in 60 s. */
export const firstVideoFrame = (page: Page) =>
  page.evaluate(() =>
    Promise.race([
      (window as unknown as { firstFrame: Promise<boolean> }).firstFrame,
      new Promise<boolean>((_, reject) => setTimeout(() => reject(new Error('no video frame in 60 s')), 60_000)),
    ]),
  );
export const pageStats = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { mediaTest: { stats(): Promise<{ framesDecoded: number; audioPackets: number; localCandidateTypes: string[] }> } }).mediaTest.stats(),
  );
