/**
 * A reader for Janus's own recordings (.mjr, "MJR00002"): the 8-byte magic,
 * a big-endian u16 length and the JSON info header ({ t: 'a'|'v'|'d', c:
 * codec, s: created µs, u: first frame µs, e?: marked end-to-end encrypted,
 * ... }), then one record per RTP packet: "MEET", a big-endian u32 of
 * milliseconds since the first packet, a big-endian u16 length and the packet
 * exactly as Janus received it (ssrc/seq/timestamp rewritten to Janus's
 * switching context). Layout checked against Janus's src/record.c
 * (janus_recorder_create_full / janus_recorder_save_frame).
 *
 * Used by the tests to look at what the media server actually saw. It never
 * decodes media itself and never writes a recording.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface MjrInfo {
  /** 'a' audio, 'v' video, 'd' data. */
  t: 'a' | 'v' | 'd';
  /** Codec name as Janus wrote it: 'vp8', 'opus', ... */
  c: string;
  /** Created, µs since the epoch. */
  s?: number;
  /** First frame written, µs since the epoch. */
  u?: number;
  /** Janus marks a recording end-to-end encrypted only when the plugin told it to. */
  e?: boolean;
  [key: string]: unknown;
}

export interface MjrPacket {
  /** Milliseconds since the first packet of the recording. */
  atMs: number;
  /** The RTP packet (or data-channel record for 'd'). */
  bytes: Uint8Array;
}

export interface MjrRecording {
  info: MjrInfo;
  packets: MjrPacket[];
}

export class MjrFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MjrFormatError';
  }
}

const MAGIC = 'MJR00002';
const FRAME_MAGIC = 'MEET';

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** Parses a whole .mjr file. A truncated last record (Janus killed mid-write) is dropped, anything else malformed throws. */
export function parseMjr(bytes: Uint8Array): MjrRecording {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 10 || ascii(bytes, 0, 8) !== MAGIC) throw new MjrFormatError('not an MJR00002 recording');
  const infoLength = view.getUint16(8);
  if (10 + infoLength > bytes.length) throw new MjrFormatError('info header runs past the end');
  let info: MjrInfo;
  try {
    info = JSON.parse(new TextDecoder().decode(bytes.subarray(10, 10 + infoLength))) as MjrInfo;
  } catch {
    throw new MjrFormatError('info header is not JSON');
  }
  if (!['a', 'v', 'd'].includes(info.t) || typeof info.c !== 'string') throw new MjrFormatError('info header lacks t/c');
  const packets: MjrPacket[] = [];
  let at = 10 + infoLength;
  while (at + 10 <= bytes.length) {
    if (ascii(bytes, at, 4) !== FRAME_MAGIC) throw new MjrFormatError(`no MEET record at byte ${at}`);
    const atMs = view.getUint32(at + 4);
    const length = view.getUint16(at + 8);
    if (at + 10 + length > bytes.length) break;
    packets.push({ atMs, bytes: bytes.slice(at + 10, at + 10 + length) });
    at += 10 + length;
  }
  return { info, packets };
}

export function readMjrFile(path: string): MjrRecording {
  return parseMjr(new Uint8Array(readFileSync(path)));
}

export interface RecordedStream extends MjrRecording {
  file: string;
}

/** Every .mjr recording in a folder (Janus writes one file per stream). */
export function readRecordings(dir: string): RecordedStream[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.mjr'))
    .sort()
    .map((name) => ({ file: name, ...readMjrFile(join(dir, name)) }));
}
