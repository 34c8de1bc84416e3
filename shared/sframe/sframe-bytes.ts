/**
 * Byte helpers of the SFrame module: WebCrypto wants buffers it owns
 * (ArrayBuffer-backed views), and the AAD and the frame are concatenations.
 * No Buffer, no Node imports: this runs in a browser worker too.
 */
export type Bytes = Uint8Array<ArrayBuffer>;

/** The same bytes as an ArrayBuffer-backed view (copied only when the source is shared memory). */
export function ownBytes(bytes: Uint8Array): Bytes {
  if (bytes.buffer instanceof ArrayBuffer) return bytes as Bytes;
  return new Uint8Array(bytes);
}

export function concatBytes(...parts: readonly Uint8Array[]): Bytes {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** value as `length` bytes, big-endian (value must fit). */
export function uintBytes(value: bigint, length: number): Bytes {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i -= 1) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
