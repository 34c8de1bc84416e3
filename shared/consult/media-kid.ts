/**
 * The SFrame key id of consultation media: one key per sender per epoch, so
 * the KID carries both (epoch in the high bits, the sender's index within the
 * call in the low 8 bits). A receiver looks a frame's key up by KID alone;
 * a participant who left never gets the next epoch's keys. Never reuse a KID
 * for a different key: a new key always means a new epoch.
 */
export const MAX_SENDER_INDEX = 255;

export function mediaKid(senderIndex: number, epoch: number): bigint {
  if (!Number.isInteger(senderIndex) || senderIndex < 0 || senderIndex > MAX_SENDER_INDEX) throw new RangeError('sender index out of range');
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffff) throw new RangeError('epoch out of range');
  return (BigInt(epoch) << 8n) | BigInt(senderIndex);
}

export function senderOfKid(kid: bigint): { senderIndex: number; epoch: number } {
  return { senderIndex: Number(kid & 0xffn), epoch: Number(kid >> 8n) };
}
