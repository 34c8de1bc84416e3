/**
 * What the media server saw, from its own recording: each Janus .mjr stream
 * turned back into the encoded frames the senders' transforms produced
 * (VP8: depacketized; Opus: one RTP payload per frame), every frame's SFrame
 * header checked (RFC 9605 header at the start of the frame, KID naming a
 * sender and epoch), and, given keys a legitimate participant holds, the
 * frames decrypted for the control decode. Reads recordings only; holds no
 * key of its own and never logs frame contents.
 */
import { parseSFrameHeader, sframeDecrypt, type SFrameKey } from '../../shared/sframe';
import { senderOfKid } from '../../shared/consult/media-kid';
import { readRecordings, type RecordedStream } from '../support/mjr-recording';
import { depacketizeVp8, isVp8KeyFrame, parseRtp } from '../support/rtp-payload';

export interface RecordedFrame {
  data: Uint8Array;
  complete: boolean;
}

export interface StreamAnalysis {
  file: string;
  kind: 'audio' | 'video';
  codec: string;
  packets: number;
  /** Complete frames (video: start to marker, no gap; audio: every packet). */
  frames: RecordedFrame[];
  /** Frames whose first bytes parse as an SFrame header. */
  sframeFrames: number;
  /** Frames that would pass as the codec's plaintext (VP8 key frame start code / none for Opus). */
  plaintextLooking: number;
  /** Distinct (sender index, epoch) pairs seen in the KIDs. */
  kids: { senderIndex: number; epoch: number; frames: number }[];
}

export function analyseStream(stream: RecordedStream): StreamAnalysis {
  const kind = stream.info.t === 'v' ? 'video' : 'audio';
  const rtp = stream.packets.map((p) => parseRtp(p.bytes));
  const frames: RecordedFrame[] =
    kind === 'video'
      ? depacketizeVp8(rtp).filter((f) => f.complete)
      : rtp.filter((p) => p.payload.length > 0).map((p) => ({ data: p.payload.slice(), complete: true }));
  let sframeFrames = 0;
  const kids = new Map<string, { senderIndex: number; epoch: number; frames: number }>();
  for (const frame of frames) {
    try {
      const header = parseSFrameHeader(frame.data);
      if (header.headerLength >= frame.data.length) continue;
      sframeFrames++;
      const { senderIndex, epoch } = senderOfKid(header.kid);
      const key = `${senderIndex}/${epoch}`;
      const entry = kids.get(key) ?? { senderIndex, epoch, frames: 0 };
      entry.frames++;
      kids.set(key, entry);
    } catch {
      /* not an SFrame header: counted by its absence */
    }
  }
  return {
    file: stream.file,
    kind,
    codec: stream.info.c,
    packets: stream.packets.length,
    frames,
    sframeFrames,
    plaintextLooking: kind === 'video' ? frames.filter((f) => isVp8KeyFrame(f.data)).length : 0,
    kids: [...kids.values()],
  };
}

export function analyseRecordingDir(dir: string): StreamAnalysis[] {
  return readRecordings(dir)
    .filter((s) => s.info.t !== 'd')
    .map(analyseStream);
}

/** Decrypts a stream's frames with the keys a participant holds; frames it cannot open are counted, not returned. */
export async function decryptFrames(frames: readonly RecordedFrame[], keyFor: (kid: bigint) => SFrameKey | undefined): Promise<{ plaintexts: Uint8Array[]; failed: number }> {
  const plaintexts: Uint8Array[] = [];
  let failed = 0;
  for (const frame of frames) {
    try {
      plaintexts.push((await sframeDecrypt(keyFor, new Uint8Array(), frame.data)).plaintext);
    } catch {
      failed++;
    }
  }
  return { plaintexts, failed };
}
