/**
 * SFrame frames as the media worker uses them: each of the five cipher
 * suites round-trips; a frame with any single bit flipped (header,
 * ciphertext or tag) is refused and never yields plaintext; an unknown KID,
 * a truncated frame and junk headers are refused with their own codes; KID
 * and CTR near 2^64 - 1 round-trip exactly (no rounding through Number) and a
 * counter of 2^64 or more is refused. Error messages carry no key, frame or
 * plaintext bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CIPHER_SUITES, SFrameError, deriveSFrameKey, encodeSFrameHeader, parseSFrameHeader, sframeDecrypt, sframeEncrypt,
  type CipherSuiteId, type SFrameErrorCode, type SFrameKey,
} from '../shared/sframe/index';

const SUITES: CipherSuiteId[] = [1, 2, 3, 4, 5];
const MAX = (1n << 64n) - 1n;
const BASE_KEY = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const METADATA = new TextEncoder().encode('rtp-metadata');
const PLAINTEXT = new TextEncoder().encode('a frame of the patient picture');

const ringOf = (...keys: SFrameKey[]) => (kid: bigint): SFrameKey | undefined => keys.find((k) => k.kid === kid);

async function refusal(promise: Promise<unknown>): Promise<SFrameError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SFrameError, `not an SFrameError: ${String(error)}`);
    return error;
  }
  assert.fail('the frame was accepted');
}

function thrown(fn: () => unknown): SFrameError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SFrameError, `not an SFrameError: ${String(error)}`);
    return error;
  }
  assert.fail('no error');
}

test('each of the five cipher suites round-trips frames of several sizes, with and without metadata', async () => {
  for (const suite of SUITES) {
    const key = await deriveSFrameKey(suite, 0x1234n, BASE_KEY);
    for (const size of [0, 1, 17, 1200, 30_000]) {
      const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 31 + suite) & 0xff);
      for (const metadata of [new Uint8Array(0), METADATA]) {
        const frame = await sframeEncrypt(key, 42n, metadata, plaintext);
        const header = encodeSFrameHeader(0x1234n, 42n);
        assert.deepEqual(frame.subarray(0, header.length), header);
        assert.equal(frame.length, header.length + size + CIPHER_SUITES[suite].nt, `suite ${suite}`);
        if (size >= 16) assert.notDeepEqual(frame.subarray(header.length, header.length + 16), plaintext.subarray(0, 16));
        const opened = await sframeDecrypt(ringOf(key), metadata, frame);
        assert.deepEqual(opened, { kid: 0x1234n, ctr: 42n, plaintext });
      }
    }
  }
});

test('a different counter gives a different ciphertext under the same key (the nonce follows the counter)', async () => {
  const key = await deriveSFrameKey(4, 7n, BASE_KEY);
  const a = await sframeEncrypt(key, 1n, METADATA, PLAINTEXT);
  const b = await sframeEncrypt(key, 2n, METADATA, PLAINTEXT);
  assert.notDeepEqual(a.subarray(1), b.subarray(1));
});

test('a single flipped bit anywhere in the frame (header, ciphertext, tag) is refused in every suite, never decrypted', async () => {
  for (const suite of SUITES) {
    const kid = 300n;
    const key = await deriveSFrameKey(suite, kid, BASE_KEY);
    const frame = await sframeEncrypt(key, 70_000n, METADATA, PLAINTEXT);
    const headerLength = parseSFrameHeader(frame).headerLength;
    // The receiver knows a key (same base key) for every KID a flipped header can name,
    // so a flipped KID bit is caught by authentication, not merely by the key lookup.
    const keys = [key];
    for (let bit = 0; bit < headerLength * 8; bit += 1) {
      const flipped = frame.slice();
      flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
      try {
        const otherKid = parseSFrameHeader(flipped).kid;
        if (!keys.some((k) => k.kid === otherKid)) keys.push(await deriveSFrameKey(suite, otherKid, BASE_KEY));
      } catch {
        // A flip that makes the header unparsable needs no key.
      }
    }
    const counts: Record<string, number> = {};
    for (let bit = 0; bit < frame.length * 8; bit += 1) {
      const flipped = frame.slice();
      flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
      const error = await refusal(sframeDecrypt(ringOf(...keys), METADATA, flipped));
      const where = bit < headerLength * 8 ? 'header' : bit < (frame.length - CIPHER_SUITES[suite].nt) * 8 ? 'ciphertext' : 'tag';
      assert.ok(error.code === 'AUTH_FAILED' || error.code === 'MALFORMED_HEADER', `suite ${suite} bit ${bit} (${where}): ${error.code}`);
      if (where !== 'header') assert.equal(error.code, 'AUTH_FAILED', `suite ${suite} bit ${bit} (${where})`);
      counts[where] = (counts[where] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(counts).sort(), ['ciphertext', 'header', 'tag']);
  }
});

test('the metadata is authenticated: the same frame with other metadata fails authentication', async () => {
  for (const suite of SUITES) {
    const key = await deriveSFrameKey(suite, 9n, BASE_KEY);
    const frame = await sframeEncrypt(key, 3n, METADATA, PLAINTEXT);
    assert.equal((await refusal(sframeDecrypt(ringOf(key), new TextEncoder().encode('rtp-metadatA'), frame))).code, 'AUTH_FAILED');
    assert.equal((await refusal(sframeDecrypt(ringOf(key), new Uint8Array(0), frame))).code, 'AUTH_FAILED');
  }
});

test('a wrong key for the right KID (other base key, other suite) fails authentication', async () => {
  const key = await deriveSFrameKey(4, 5n, BASE_KEY);
  const frame = await sframeEncrypt(key, 1n, METADATA, PLAINTEXT);
  const otherBase = await deriveSFrameKey(4, 5n, BASE_KEY.map((b) => b ^ 1));
  assert.equal((await refusal(sframeDecrypt(ringOf(otherBase), METADATA, frame))).code, 'AUTH_FAILED');
  const otherSuite = await deriveSFrameKey(5, 5n, BASE_KEY);
  assert.equal((await refusal(sframeDecrypt(ringOf(otherSuite), METADATA, frame))).code, 'AUTH_FAILED');
});

test('a frame whose KID has no key is refused with UNKNOWN_KEY, as is a key that is not for that KID or not made here', async () => {
  const key = await deriveSFrameKey(4, 5n, BASE_KEY);
  const frame = await sframeEncrypt(key, 1n, METADATA, PLAINTEXT);
  assert.equal((await refusal(sframeDecrypt(() => undefined, METADATA, frame))).code, 'UNKNOWN_KEY');
  const keyOfSix = await deriveSFrameKey(4, 6n, BASE_KEY);
  assert.equal((await refusal(sframeDecrypt(() => keyOfSix, METADATA, frame))).code, 'UNKNOWN_KEY');
  const forged = { kid: 5n, suite: 4 } as unknown as SFrameKey;
  assert.equal((await refusal(sframeDecrypt(() => forged, METADATA, frame))).code, 'UNKNOWN_KEY');
  assert.equal((await refusal(sframeEncrypt(forged, 1n, METADATA, PLAINTEXT))).code, 'UNKNOWN_KEY');
});

test('a truncated frame is refused: inside the header or shorter than a tag it is MALFORMED_HEADER, otherwise AUTH_FAILED', async () => {
  for (const suite of SUITES) {
    const key = await deriveSFrameKey(suite, 1n << 40n, BASE_KEY);
    const frame = await sframeEncrypt(key, 1n << 33n, METADATA, PLAINTEXT);
    const { headerLength } = parseSFrameHeader(frame);
    assert.equal(headerLength, 1 + 6 + 5);
    for (let length = 0; length < frame.length; length += 1) {
      const error = await refusal(sframeDecrypt(ringOf(key), METADATA, frame.subarray(0, length)));
      const expected: SFrameErrorCode = length < headerLength + CIPHER_SUITES[suite].nt ? 'MALFORMED_HEADER' : 'AUTH_FAILED';
      assert.equal(error.code, expected, `suite ${suite} length ${length}`);
    }
  }
});

test('junk headers are MALFORMED_HEADER: empty, extended fields cut short, non-canonical encodings, not bytes', () => {
  const junk: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['extended KID of 8 bytes, 3 present', Uint8Array.of(0xf0, 1, 2, 3)],
    ['extended CTR of 2 bytes, 1 present', Uint8Array.of(0x09, 0xff)],
    ['extended KID then CTR cut short', Uint8Array.of(0x8f, 0x10, 0xaa, 0xbb)],
    ['KID below 8 in extended form', Uint8Array.of(0x80, 0x05, 0x00)],
    ['CTR below 8 in extended form', Uint8Array.of(0x08, 0x07)],
    ['KID with a leading zero byte', Uint8Array.of(0x90, 0x00, 0x10)],
    ['CTR with a leading zero byte', Uint8Array.of(0x0a, 0x00, 0x01, 0x00)],
  ];
  for (const [name, bytes] of junk) assert.equal(thrown(() => parseSFrameHeader(bytes)).code, 'MALFORMED_HEADER', name);
  assert.equal(thrown(() => parseSFrameHeader([0] as unknown as Uint8Array)).code, 'MALFORMED_HEADER');
  // Every canonical header re-encodes to itself: one header per (KID, CTR).
  for (const [kid, ctr] of [[0n, 0n], [8n, 255n], [MAX, MAX], [2n ** 53n + 1n, 7n]] as const) {
    const header = encodeSFrameHeader(kid, ctr);
    const parsed = parseSFrameHeader(header);
    assert.deepEqual(encodeSFrameHeader(parsed.kid, parsed.ctr), header);
  }
});

test('junk frames give MALFORMED_HEADER from decryption too, before any key is looked up', async () => {
  let lookups = 0;
  const keyFor = (): undefined => {
    lookups += 1;
    return undefined;
  };
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0xf0, 1, 2, 3), Uint8Array.of(0x80, 0x05, 1, 2, 3)]) {
    assert.equal((await refusal(sframeDecrypt(keyFor, METADATA, bytes))).code, 'MALFORMED_HEADER');
  }
  assert.equal(lookups, 0);
});

test('KID and CTR near 2^64 - 1 and just above 2^53 round-trip exactly through the header and a frame', async () => {
  const values = [MAX, MAX - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 53n - 1n, 9007199254740993n];
  for (const kid of values) {
    for (const ctr of values) {
      const header = encodeSFrameHeader(kid, ctr);
      assert.deepEqual(parseSFrameHeader(header), { kid, ctr, headerLength: header.length });
    }
  }
  const key = await deriveSFrameKey(4, MAX, BASE_KEY);
  const keyBelow = await deriveSFrameKey(4, MAX - 1n, BASE_KEY);
  for (const ctr of [MAX, MAX - 1n, 2n ** 53n + 1n]) {
    const frame = await sframeEncrypt(key, ctr, METADATA, PLAINTEXT);
    const header = encodeSFrameHeader(MAX, ctr);
    assert.equal(header[0]! >> 4, 0xf, 'an 8-byte extended KID');
    assert.deepEqual(header.subarray(1, 9), new Uint8Array(8).fill(0xff));
    assert.deepEqual(frame.subarray(0, header.length), header);
    const opened = await sframeDecrypt(ringOf(keyBelow, key), METADATA, frame);
    assert.equal(opened.kid, MAX);
    assert.equal(opened.ctr, ctr);
    assert.deepEqual(opened.plaintext, PLAINTEXT);
  }
  // 2^53 + 1 is not a Number: a value rounded through Number would name 2^53.
  const rounded = await sframeEncrypt(key, 2n ** 53n + 1n, METADATA, PLAINTEXT);
  assert.equal((await sframeDecrypt(ringOf(key), METADATA, rounded)).ctr, 9007199254740993n);
});

test('a counter of 2^64 or more (or below zero) is refused with COUNTER_EXHAUSTED; a Number is never accepted', async () => {
  const key = await deriveSFrameKey(4, 1n, BASE_KEY);
  for (const ctr of [2n ** 64n, 2n ** 64n + 1n, 2n ** 80n, -1n]) {
    assert.equal((await refusal(sframeEncrypt(key, ctr, METADATA, PLAINTEXT))).code, 'COUNTER_EXHAUSTED');
    assert.equal(thrown(() => encodeSFrameHeader(1n, ctr)).code, 'COUNTER_EXHAUSTED');
  }
  assert.equal((await refusal(sframeEncrypt(key, 5 as unknown as bigint, METADATA, PLAINTEXT))).code, 'MALFORMED_HEADER');
  assert.equal(thrown(() => encodeSFrameHeader(2n ** 64n, 0n)).code, 'MALFORMED_HEADER');
  assert.equal(thrown(() => encodeSFrameHeader(1 as unknown as bigint, 0n)).code, 'MALFORMED_HEADER');
  await assert.rejects(deriveSFrameKey(4, 2n ** 64n, BASE_KEY), RangeError);
  await assert.rejects(deriveSFrameKey(6 as CipherSuiteId, 1n, BASE_KEY), RangeError);
});

test('a key shows only its kid and suite; refusals carry fixed messages with no key, frame or plaintext bytes', async () => {
  const key = await deriveSFrameKey(1, 77n, BASE_KEY);
  assert.deepEqual(Object.keys(key).sort(), ['kid', 'suite']);
  assert.ok(Object.isFrozen(key));
  assert.deepEqual({ ...key }, { kid: 77n, suite: 1 });
  const frame = await sframeEncrypt(key, 1n, METADATA, PLAINTEXT);
  const tampered = frame.slice();
  tampered[tampered.length - 1]! ^= 1;
  const errors = [
    await refusal(sframeDecrypt(ringOf(key), METADATA, tampered)),
    await refusal(sframeDecrypt(() => undefined, METADATA, frame)),
    await refusal(sframeDecrypt(ringOf(key), METADATA, frame.subarray(0, 2))),
  ];
  const secrets = [BASE_KEY, PLAINTEXT, frame].map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));
  for (const error of errors) {
    const text = `${String(error)} ${JSON.stringify(error)}`;
    for (const secret of secrets) assert.ok(!text.includes(secret.slice(0, 8)));
    assert.ok(!text.includes('patient picture'));
    assert.ok(!text.includes('77'));
  }
  assert.deepEqual(errors.map((e) => e.code), ['AUTH_FAILED', 'UNKNOWN_KEY', 'MALFORMED_HEADER']);
});
