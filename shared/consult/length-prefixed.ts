/**
 * Unambiguous byte strings for hashing and signing: each field is written as a
 * 4-byte big-endian length followed by its bytes, so no two different field
 * lists can produce the same bytes (call id "ab"+"c" never equals "a"+"bc").
 * Used for the call-key signature, the short authentication string and the
 * HPKE info of sealed sender keys. Never hash or sign bare concatenations.
 */
const utf8 = new TextEncoder();

export type Field = Uint8Array | string;

export function lengthPrefixed(...fields: readonly Field[]): Uint8Array<ArrayBuffer> {
  const parts = fields.map((f) => (typeof f === 'string' ? utf8.encode(f) : f));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const part of parts) {
    view.setUint32(at, part.length);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}
