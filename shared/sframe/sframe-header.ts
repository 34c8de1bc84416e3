/**
 * The SFrame header of RFC 9605 section 4.3: a config byte |X|K(3)|Y|C(3)|
 * then the extended KID and CTR, big-endian. A value below 8 sits in the
 * config byte; a larger one takes the fewest bytes that hold it (1-8).
 * KID and CTR are bigint from end to end: never route them through Number,
 * which silently rounds above 2^53. The parser accepts only the one
 * canonical encoding the encoder produces (no value below 8 in extended
 * form, no leading zero byte), so each (KID, CTR) has exactly one header.
 */
import { SFrameError } from './sframe-error';

export const MAX_UINT64 = (1n << 64n) - 1n;

export interface SFrameHeader {
  kid: bigint;
  ctr: bigint;
  headerLength: number;
}

function byteLength(value: bigint): number {
  let length = 0;
  for (let v = value; v > 0n; v >>= 8n) length += 1;
  return length;
}

function writeBigEndian(out: Uint8Array, offset: number, value: bigint, length: number): void {
  let v = value;
  for (let i = length - 1; i >= 0; i -= 1) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readBigEndian(bytes: Uint8Array, offset: number, length: number): bigint {
  let value = 0n;
  for (let i = 0; i < length; i += 1) value = (value << 8n) | BigInt(bytes[offset + i]!);
  return value;
}

function checkKid(kid: bigint): void {
  if (typeof kid !== 'bigint' || kid < 0n || kid > MAX_UINT64) throw new SFrameError('MALFORMED_HEADER');
}

/** Throws COUNTER_EXHAUSTED for a counter that 64 bits cannot carry. */
export function checkCounter(ctr: bigint): void {
  if (typeof ctr !== 'bigint') throw new SFrameError('MALFORMED_HEADER');
  if (ctr < 0n || ctr > MAX_UINT64) throw new SFrameError('COUNTER_EXHAUSTED');
}

export function encodeSFrameHeader(kid: bigint, ctr: bigint): Uint8Array<ArrayBuffer> {
  checkKid(kid);
  checkCounter(ctr);
  const kidLength = kid < 8n ? 0 : byteLength(kid);
  const ctrLength = ctr < 8n ? 0 : byteLength(ctr);
  const out = new Uint8Array(1 + kidLength + ctrLength);
  const k = kidLength === 0 ? 0x00 | Number(kid) : 0x08 | (kidLength - 1);
  const c = ctrLength === 0 ? 0x00 | Number(ctr) : 0x08 | (ctrLength - 1);
  out[0] = (k << 4) | c;
  if (kidLength > 0) writeBigEndian(out, 1, kid, kidLength);
  if (ctrLength > 0) writeBigEndian(out, 1 + kidLength, ctr, ctrLength);
  return out;
}

function readField(frame: Uint8Array, offset: number, nibble: number): { value: bigint; length: number } {
  if ((nibble & 0x08) === 0) return { value: BigInt(nibble), length: 0 };
  const length = (nibble & 0x07) + 1;
  if (frame.length < offset + length) throw new SFrameError('MALFORMED_HEADER');
  // Canonical form only: the first byte is non-zero and the value needs this extended form.
  if (frame[offset] === 0) throw new SFrameError('MALFORMED_HEADER');
  const value = readBigEndian(frame, offset, length);
  if (value < 8n) throw new SFrameError('MALFORMED_HEADER');
  return { value, length };
}

export function parseSFrameHeader(frame: Uint8Array): SFrameHeader {
  if (!(frame instanceof Uint8Array) || frame.length < 1) throw new SFrameError('MALFORMED_HEADER');
  const config = frame[0]!;
  const kid = readField(frame, 1, config >> 4);
  const ctr = readField(frame, 1 + kid.length, config & 0x0f);
  return { kid: kid.value, ctr: ctr.value, headerLength: 1 + kid.length + ctr.length };
}
