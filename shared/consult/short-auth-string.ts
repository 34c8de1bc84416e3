/**
 * The short authentication string (SAS) of a call: 6 decimal digits that every
 * participant computes from the call id and the set of every participant's
 * call public key, and that people read aloud to each other. If a relay (the
 * backend, the media server, anyone in between) swapped a public key to sit in
 * the middle, the two sides hold different key sets and see different codes.
 * Order-independent (keys are sorted) and unambiguous (length-prefixed), so
 * every honest participant gets the same digits. Never derive it from
 * anything but the public keys and the call id.
 */
import { lengthPrefixed } from './length-prefixed';

const SAS_LABEL = 'clinician-desktop consult short-auth-string v1';

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export async function shortAuthString(callId: string, publicKeys: readonly Uint8Array[]): Promise<string> {
  if (typeof callId !== 'string' || callId.length === 0) throw new RangeError('call id required');
  if (publicKeys.length === 0) throw new RangeError('at least one public key required');
  const sorted = [...publicKeys].sort(compareBytes);
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, sorted.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', lengthPrefixed(SAS_LABEL, callId, count, ...sorted)));
  // 64 bits reduced mod 10^6: the bias is below 2^-44, far under anything a listener could notice.
  const value = new DataView(digest.buffer).getBigUint64(0) % 1_000_000n;
  return value.toString().padStart(6, '0');
}
