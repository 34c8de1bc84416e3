/**
 * Benchmark-only page script: one side of a consultation's media path
 * (publisher: fake camera 640x480 + fake microphone; subscriber: one feed on
 * a <video>), with or without the SFrame transform worker on every sender
 * and receiver. The Node side relays the SDP through the real media server
 * (janusMediaServer). Exposes window.bench; never used by the product.
 */
declare const WORKER_SOURCE: string;

interface BenchOptions {
  encrypted: boolean;
  kid: string;
  baseKey: number[];
  /** The worker's frame counters: the product's two ranges, or one counter from 0 (see sframe-transform-worker.ts). */
  counters: 'product' | 'single';
}

let worker: Worker | null = null;
let pc: RTCPeerConnection | null = null;

function transformFor(options: BenchOptions, side: 'send' | 'recv'): RTCRtpScriptTransform | null {
  if (!options.encrypted) return null;
  worker ??= new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' })));
  return new RTCRtpScriptTransform(worker, { side, kid: options.kid, baseKey: Uint8Array.from(options.baseKey), counters: options.counters });
}

async function gathered(peer: RTCPeerConnection): Promise<void> {
  if (peer.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => peer.addEventListener('icegatheringstatechange', () => peer.iceGatheringState === 'complete' && resolve()));
}

async function publish(options: BenchOptions): Promise<{ type: 'offer'; sdp: string; e2ee: true }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480, frameRate: 30 } });
  pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const { sender } = pc.addTransceiver(track, { direction: 'sendonly' });
    const t = transformFor(options, 'send');
    if (t) sender.transform = t;
  }
  await pc.setLocalDescription();
  await gathered(pc);
  return { type: 'offer', sdp: pc.localDescription!.sdp, e2ee: true };
}

async function accept(answer: RTCSessionDescriptionInit): Promise<void> {
  const peer = pc!;
  const connected = new Promise<void>((resolve) => {
    const check = () => peer.connectionState === 'connected' && resolve();
    peer.addEventListener('connectionstatechange', check);
    check();
  });
  await peer.setRemoteDescription(answer);
  // Janus offers a feed to subscribers only once the publisher's media is up.
  await connected;
}

let firstFrameAt: Promise<number> | null = null;

async function subscribe(options: BenchOptions, offer: RTCSessionDescriptionInit): Promise<{ type: 'answer'; sdp: string }> {
  pc = new RTCPeerConnection();
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  const audio = document.createElement('audio');
  audio.autoplay = true;
  document.body.append(audio);
  firstFrameAt = new Promise((resolve) => {
    pc!.addEventListener('track', (event) => {
      const t = transformFor(options, 'recv');
      if (t) event.receiver.transform = t;
      const element = event.track.kind === 'video' ? video : audio;
      element.srcObject = new MediaStream([event.track]);
      if (event.track.kind === 'video') video.requestVideoFrameCallback(() => resolve(Date.now()));
    });
  });
  await pc.setRemoteDescription(offer);
  await pc.setLocalDescription();
  await gathered(pc);
  return { type: 'answer', sdp: pc.localDescription!.sdp };
}

interface BenchStats {
  framesDecoded: number;
  framesEncoded: number;
  audioSamples: number;
  keyFramesEncoded: number;
  keyFramesDecoded: number;
  /** Picture loss indications: sent by the subscriber (inbound), received by the publisher (outbound). */
  pliCount: number;
}

async function stats(): Promise<BenchStats> {
  const out: BenchStats = { framesDecoded: 0, framesEncoded: 0, audioSamples: 0, keyFramesEncoded: 0, keyFramesDecoded: 0, pliCount: 0 };
  type Report = { type: string; kind?: string; framesDecoded?: number; framesEncoded?: number; totalSamplesReceived?: number; keyFramesEncoded?: number; keyFramesDecoded?: number; pliCount?: number };
  (await pc!.getStats()).forEach((r: Report) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out.framesDecoded += r.framesDecoded ?? 0;
      out.keyFramesDecoded += r.keyFramesDecoded ?? 0;
      out.pliCount += r.pliCount ?? 0;
    }
    if (r.type === 'inbound-rtp' && r.kind === 'audio') out.audioSamples += r.totalSamplesReceived ?? 0;
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      out.framesEncoded += r.framesEncoded ?? 0;
      out.keyFramesEncoded += r.keyFramesEncoded ?? 0;
      out.pliCount += r.pliCount ?? 0;
    }
  });
  return out;
}

function workerCounters(): Promise<Record<string, number> | null> {
  if (!worker) return Promise.resolve(null);
  return new Promise((resolve) => {
    worker!.addEventListener('message', (e) => resolve(e.data as Record<string, number>), { once: true });
    worker!.postMessage('counters');
  });
}

(window as unknown as { bench: object }).bench = { publish, accept, subscribe, firstFrame: () => firstFrameAt, stats, workerCounters, close: () => pc?.close() };
