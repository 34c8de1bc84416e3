/**
 * RTP packet parsing (RFC 3550: fixed header, CSRCs, header extension,
 * padding) and VP8 depacketization (RFC 7741: the payload descriptor,
 * frames reassembled by timestamp in sequence order). Used by the tests to
 * turn a Janus recording back into the encoded frames the sender's encoder
 * (or its encoded transform) produced. It never decrypts and never decodes.
 */

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
}

export class RtpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RtpFormatError';
  }
}

export function parseRtp(packet: Uint8Array): RtpPacket {
  if (packet.length < 12) throw new RtpFormatError('shorter than an RTP header');
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const first = packet[0]!;
  if (first >> 6 !== 2) throw new RtpFormatError('not RTP version 2');
  const padding = (first & 0x20) !== 0;
  const extension = (first & 0x10) !== 0;
  const csrcCount = first & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (extension) {
    if (offset + 4 > packet.length) throw new RtpFormatError('header extension runs past the end');
    offset += 4 + 4 * view.getUint16(offset + 2);
  }
  let end = packet.length;
  if (padding) end -= packet[packet.length - 1]!;
  if (offset > end) throw new RtpFormatError('header runs past the payload');
  return {
    marker: (packet[1]! & 0x80) !== 0,
    payloadType: packet[1]! & 0x7f,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: packet.subarray(offset, end),
  };
}

export interface Vp8Descriptor {
  /** S: the first packet of a VP8 partition. */
  start: boolean;
  partitionId: number;
  pictureId: number | null;
  /** Bytes of descriptor before the VP8 payload. */
  length: number;
}

/** RFC 7741 section 4.2. */
export function parseVp8Descriptor(payload: Uint8Array): Vp8Descriptor {
  if (payload.length < 1) throw new RtpFormatError('empty VP8 payload');
  const b0 = payload[0]!;
  let at = 1;
  let pictureId: number | null = null;
  if (b0 & 0x80) {
    const x = payload[at++];
    if (x === undefined) throw new RtpFormatError('VP8 descriptor truncated');
    if (x & 0x80) {
      const p = payload[at++];
      if (p === undefined) throw new RtpFormatError('VP8 descriptor truncated');
      if (p & 0x80) {
        const p2 = payload[at++];
        if (p2 === undefined) throw new RtpFormatError('VP8 descriptor truncated');
        pictureId = ((p & 0x7f) << 8) | p2;
      } else pictureId = p;
    }
    if (x & 0x40) at++; // TL0PICIDX
    if (x & 0x30) at++; // TID/Y/KEYIDX
  }
  if (at > payload.length) throw new RtpFormatError('VP8 descriptor truncated');
  return { start: (b0 & 0x10) !== 0, partitionId: b0 & 0x07, pictureId, length: at };
}

export interface EncodedFrame {
  timestamp: number;
  /** The frame as the sender's packetizer got it (VP8 bitstream, or SFrame ciphertext). */
  data: Uint8Array;
  /** Every packet from start to marker, no sequence gap. */
  complete: boolean;
  packets: number;
}

/** Packets in sending order (RTP sequence numbers unwrapped from their 16 bits). */
export function inSequence(packets: readonly RtpPacket[]): RtpPacket[] {
  let last: number | null = null;
  let cycles = 0;
  const keyed = packets.map((p) => {
    if (last !== null && p.sequence < last && last - p.sequence > 0x8000) cycles += 0x10000;
    last = p.sequence;
    return { p, key: cycles + p.sequence };
  });
  const seen = new Set<number>();
  return keyed
    .sort((a, b) => a.key - b.key)
    .filter(({ key }) => (seen.has(key) ? false : (seen.add(key), true)))
    .map(({ p }) => p);
}

/** Reassembles VP8 frames (one per RTP timestamp) from one stream's packets. */
export function depacketizeVp8(packets: readonly RtpPacket[]): EncodedFrame[] {
  const frames: EncodedFrame[] = [];
  let current: { timestamp: number; parts: Uint8Array[]; complete: boolean; lastSeq: number; packets: number } | null = null;
  const finish = () => {
    if (!current) return;
    const size = current.parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(size);
    let at = 0;
    for (const part of current.parts) {
      data.set(part, at);
      at += part.length;
    }
    frames.push({ timestamp: current.timestamp, data, complete: current.complete, packets: current.packets });
    current = null;
  };
  for (const packet of inSequence(packets)) {
    if (packet.payload.length === 0) continue; // padding-only probes
    const descriptor = parseVp8Descriptor(packet.payload);
    const body = packet.payload.subarray(descriptor.length);
    if (current && current.timestamp !== packet.timestamp) {
      current.complete = false; // no marker bit before the next frame
      finish();
    }
    if (!current) {
      current = { timestamp: packet.timestamp, parts: [], complete: descriptor.start && descriptor.partitionId === 0, lastSeq: packet.sequence - 1, packets: 0 };
    }
    if (((current.lastSeq + 1) & 0xffff) !== packet.sequence) current.complete = false;
    current.lastSeq = packet.sequence;
    current.parts.push(body);
    current.packets++;
    if (packet.marker) {
      finish();
    }
  }
  if (current) {
    (current as { complete: boolean }).complete = false;
    finish();
  }
  return frames;
}

/** VP8 frame tag (RFC 6386 9.1): bit 0 clear = key frame; key frames carry the start code 9d 01 2a. */
export function isVp8KeyFrame(frame: Uint8Array): boolean {
  return frame.length >= 10 && (frame[0]! & 1) === 0 && frame[3] === 0x9d && frame[4] === 0x01 && frame[5] === 0x2a;
}
