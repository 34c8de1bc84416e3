/**
 * The page script of the media worker browser test: real RTCPeerConnections
 * on loopback in one page, each participant with its own dedicated media
 * worker (the real renderer/consult-worker bundle, or the tampering test
 * worker), every sender and receiver through RTCRtpScriptTransform. The
 * page relays only what a consultation page relays: public keys into
 * rosters and sealed keys between workers (here directly, with the option
 * to withhold one). Typed structurally (the root tsconfig has no DOM lib).
 */
import type { MediaTransformOptions, MediaWorkerStats, PageToWorker, WorkerToPage } from '../../shared/consult/media-worker-protocol';

interface Track {
  kind: string;
}
interface Stream {
  getTracks(): Track[];
}
interface WorkerLike {
  postMessage(message: PageToWorker | unknown): void;
  addEventListener(type: 'message', listener: (event: { data: WorkerToPage }) => void): void;
}
interface StatsReport {
  forEach(fn: (value: Record<string, unknown>) => void): void;
}
interface PeerConnection {
  addTransceiver(track: Track, init: { direction: 'sendonly'; streams: Stream[] }): { sender: { transform: unknown } };
  addEventListener(type: 'icecandidate', fn: (event: { candidate: unknown }) => void): void;
  addEventListener(type: 'track', fn: (event: { track: Track; receiver: { transform: unknown } }) => void): void;
  addIceCandidate(candidate: unknown): Promise<void>;
  createOffer(): Promise<{ type: 'offer'; sdp?: string }>;
  createAnswer(): Promise<{ type: 'answer'; sdp?: string }>;
  setLocalDescription(description: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(description: { type: string; sdp?: string }): Promise<void>;
  getStats(): Promise<StatsReport>;
  close(): void;
}
interface MediaElement {
  srcObject: unknown;
  autoplay: boolean;
  muted: boolean;
  videoWidth: number;
  id: string;
}
interface Browser {
  MediaStream: new () => Stream & { addTrack(track: Track): void };
  document: { createElement(tag: 'video'): MediaElement; body: { append(element: MediaElement): void } };
  RTCPeerConnection: new () => PeerConnection;
  RTCRtpScriptTransform: new (worker: WorkerLike, options: MediaTransformOptions) => unknown;
  Worker: new (url: string, options: { type: 'module' }) => WorkerLike;
  navigator: { mediaDevices: { getUserMedia(constraints: { audio: boolean; video: { width: number; height: number } }): Promise<Stream> } };
}

const browser = globalThis as unknown as Browser;

interface Participant {
  id: string;
  index: number;
  worker: WorkerLike;
  publicKey: string;
  messages: WorkerToPage[];
  waiters: { type: WorkerToPage['type']; resolve(message: WorkerToPage): void }[];
}

export interface ReceiveStats {
  videoFramesDecoded: number;
  videoFramesReceived: number;
  audioSamplesDecoded: number;
  audioPacketsReceived: number;
}

const participants = new Map<string, Participant>();
const links = new Map<string, { send: PeerConnection; recv: PeerConnection }>();
const withheld = new Set<string>();

/** The next message of `type` from a participant's worker (queued if it came before anyone asked). */
function waitFor<T extends WorkerToPage['type']>(p: Participant, type: T): Promise<Extract<WorkerToPage, { type: T }>> {
  const at = p.messages.findIndex((m) => m.type === type);
  if (at >= 0) return Promise.resolve(p.messages.splice(at, 1)[0] as Extract<WorkerToPage, { type: T }>);
  return new Promise((resolve) => p.waiters.push({ type, resolve: resolve as (m: WorkerToPage) => void }));
}

async function addParticipant(id: string, index: number, workerUrl: string, callId: string): Promise<string> {
  const worker = new browser.Worker(workerUrl, { type: 'module' });
  const p: Participant = { id, index, worker, publicKey: '', messages: [], waiters: [] };
  worker.addEventListener('message', (event) => {
    const waiter = p.waiters.findIndex((w) => w.type === event.data.type);
    if (waiter >= 0) p.waiters.splice(waiter, 1)[0]!.resolve(event.data);
    else p.messages.push(event.data);
    if (event.data.type === 'sealed-keys') {
      const { epoch, keys } = event.data;
      for (const key of keys) {
        if (withheld.has(`${id}->${key.to}`)) continue;
        participants.get(key.to)?.worker.postMessage({ type: 'key', from: id, epoch, enc: key.enc, ciphertext: key.ciphertext });
      }
    }
  });
  participants.set(id, p);
  worker.postMessage({ type: 'init', callId });
  const ready = await waitFor(p, 'ready');
  p.publicKey = ready.publicKey;
  return ready.publicKey;
}

/** Gives every worker the roster of everyone; resolves when each has installed every key not withheld. */
async function shareRoster(): Promise<void> {
  const roster = [...participants.values()].map((p) => ({ participantId: p.id, index: p.index, publicKey: p.publicKey }));
  const expected = [...participants.values()].map((p) => {
    const from = roster.filter((r) => r.participantId !== p.id && !withheld.has(`${r.participantId}->${p.id}`));
    return Promise.all(from.map(() => waitFor(p, 'key-installed')));
  });
  for (const p of participants.values()) p.worker.postMessage({ type: 'roster', selfId: p.id, selfIndex: p.index, participants: roster });
  await Promise.all(expected);
}

/**
 * `id` leaves: the others get the roster without it and install each
 * other's new-epoch keys; `id`'s worker and connections stay as they are
 * (still receiving, as from a media server that keeps forwarding).
 */
async function leave(id: string): Promise<void> {
  const remaining = [...participants.values()].filter((p) => p.id !== id);
  const roster = remaining.map((p) => ({ participantId: p.id, index: p.index, publicKey: p.publicKey }));
  const installed = remaining.map((p) => {
    const from = roster.filter((r) => r.participantId !== p.id && !withheld.has(`${r.participantId}->${p.id}`));
    return Promise.all(from.map(() => waitFor(p, 'key-installed')));
  });
  for (const p of remaining) p.worker.postMessage({ type: 'roster', selfId: p.id, selfIndex: p.index, participants: roster });
  await Promise.all(installed);
}

/** A loopback call from `from` to `to`: both directions of transform into their own workers. */
async function connect(from: string, to: string, stream: Stream): Promise<void> {
  const sender = participants.get(from)!;
  const receiver = participants.get(to)!;
  const send = new browser.RTCPeerConnection();
  const recv = new browser.RTCPeerConnection();
  send.addEventListener('icecandidate', (e) => void (e.candidate && recv.addIceCandidate(e.candidate)));
  recv.addEventListener('icecandidate', (e) => void (e.candidate && send.addIceCandidate(e.candidate)));
  for (const track of stream.getTracks()) {
    const { sender: rtpSender } = send.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    rtpSender.transform = new browser.RTCRtpScriptTransform(sender.worker, { direction: 'send', kind: track.kind === 'audio' ? 'audio' : 'video' });
  }
  // Play what arrives, as the call UI does (audio is only decoded when something plays it).
  const remote = new browser.MediaStream();
  const element = browser.document.createElement('video');
  element.id = `${from}->${to}`;
  element.autoplay = true;
  element.srcObject = remote;
  browser.document.body.append(element);
  recv.addEventListener('track', (event) => {
    remote.addTrack(event.track);
    event.receiver.transform = new browser.RTCRtpScriptTransform(receiver.worker, { direction: 'recv', kind: event.track.kind === 'audio' ? 'audio' : 'video', feed: from });
  });
  const offer = await send.createOffer();
  await send.setLocalDescription(offer);
  await recv.setRemoteDescription(offer);
  const answer = await recv.createAnswer();
  await recv.setLocalDescription(answer);
  await send.setRemoteDescription(answer);
  links.set(`${from}->${to}`, { send, recv });
}

function disconnect(from: string, to: string): void {
  const link = links.get(`${from}->${to}`);
  link?.send.close();
  link?.recv.close();
  links.delete(`${from}->${to}`);
}

async function receiveStats(from: string, to: string): Promise<ReceiveStats> {
  const link = links.get(`${from}->${to}`);
  if (!link) throw new Error('no such link');
  const report = await link.recv.getStats();
  const out: ReceiveStats = { videoFramesDecoded: 0, videoFramesReceived: 0, audioSamplesDecoded: 0, audioPacketsReceived: 0 };
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') {
      out.videoFramesDecoded += Number(s.framesDecoded ?? 0);
      out.videoFramesReceived += Number(s.framesReceived ?? 0);
    } else if (s.kind === 'audio') {
      out.audioSamplesDecoded += Number(s.totalSamplesReceived ?? 0) - Number(s.concealedSamples ?? 0);
      out.audioPacketsReceived += Number(s.packetsReceived ?? 0);
    }
  });
  return out;
}

async function workerStats(id: string): Promise<MediaWorkerStats> {
  const p = participants.get(id)!;
  const reply = waitFor(p, 'stats');
  p.worker.postMessage({ type: 'stats' });
  return (await reply).stats;
}

async function camera(): Promise<Stream> {
  return browser.navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
}

function send(id: string, message: unknown): void {
  participants.get(id)!.worker.postMessage(message);
}

const api = {
  addParticipant,
  withhold: (from: string, to: string) => void withheld.add(`${from}->${to}`),
  shareRoster,
  leave,
  disconnect,
  camera,
  connect,
  receiveStats,
  workerStats,
  send,
};
export type MediaWorkerPageApi = typeof api;

Object.assign(globalThis, {
  __mw: {
    ...api,
    /** Each link gets its own capture of the fake camera and microphone. */
    async connectWithCamera(from: string, to: string) {
      await connect(from, to, await camera());
    },
  },
});
