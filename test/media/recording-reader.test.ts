/**
 * The recording analysis tools themselves, on a real Janus 1.1.2 recording
 * of an UNENCRYPTED VideoRoom (test/media/fixtures/plain-room-*.mjr: fake
 * camera 320x240 VP8 and fake microphone Opus, published from Chromium
 * through Janus in a network namespace, about 4 s). If the .mjr reader, the
 * RTP parser, the VP8 depacketizer or the WebCodecs decode counting were
 * wrong, the encrypted-recording test could "prove" nothing decodes only
 * because the tools are broken: here the same tools must get every frame of
 * a plain recording decoded.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { launchChromium, ROOT } from '../browser/harness';
import { parseMjr, readMjrFile, MjrFormatError } from '../support/mjr-recording';
import { depacketizeVp8, isVp8KeyFrame, parseRtp, parseVp8Descriptor } from '../support/rtp-payload';
import { decodeOpus, decodeVp8, openDecoderPage } from './webcodecs-decoder';

const FIXTURES = join(ROOT, 'test', 'media', 'fixtures');
const video = readMjrFile(join(FIXTURES, 'plain-room-video.mjr'));
const audio = readMjrFile(join(FIXTURES, 'plain-room-audio.mjr'));

test('the .mjr reader gives the info header and every RTP packet Janus saved', () => {
  assert.equal(video.info.t, 'v');
  assert.equal(video.info.c, 'vp8');
  assert.equal(audio.info.t, 'a');
  assert.equal(audio.info.c, 'opus');
  assert.equal(video.info.e, undefined, 'Janus did not mark this plain recording as encrypted');
  assert.equal(video.packets.length, 109);
  assert.equal(audio.packets.length, 232);
  for (const packet of [...video.packets, ...audio.packets]) parseRtp(packet.bytes);
  const times = audio.packets.map((p) => p.atMs);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'record times never go back');
  assert.equal(new Set(audio.packets.map((p) => parseRtp(p.bytes).payloadType)).size, 1);
});

test('a file that is not MJR00002 is refused; a record cut off by a crash is dropped', () => {
  assert.throws(() => parseMjr(new TextEncoder().encode('MJR00001\0\x02{}')), MjrFormatError);
  assert.throws(() => parseMjr(new Uint8Array()), MjrFormatError);
  const whole = parseMjr(mjr('{"t":"a","c":"opus"}', [rtp(1), rtp(2)]));
  assert.equal(whole.packets.length, 2);
  const cut = mjr('{"t":"a","c":"opus"}', [rtp(1), rtp(2)]);
  assert.equal(parseMjr(cut.slice(0, cut.length - 3)).packets.length, 1);
  const junk = cut.slice();
  junk.set(new TextEncoder().encode('XXXX'), 10 + 20);
  assert.throws(() => parseMjr(junk), MjrFormatError);
});

test('VP8 payload descriptors (RFC 7741) with short and long picture ids', () => {
  assert.deepEqual(parseVp8Descriptor(Uint8Array.from([0x10, 0x9d])), { start: true, partitionId: 0, pictureId: null, length: 1 });
  assert.deepEqual(parseVp8Descriptor(Uint8Array.from([0x90, 0x80, 0x9e, 0xee, 0x70])), { start: true, partitionId: 0, pictureId: 0x1eee, length: 4 });
  assert.deepEqual(parseVp8Descriptor(Uint8Array.from([0x81, 0xe0, 0x05, 0x01, 0x40, 0x00])), { start: false, partitionId: 1, pictureId: 5, length: 5 });
});

test('the depacketizer rebuilds whole VP8 frames: every frame complete, the first a key frame', () => {
  const frames = depacketizeVp8(video.packets.map((p) => parseRtp(p.bytes)));
  assert.equal(frames.length, 69);
  assert.ok(frames.every((f) => f.complete));
  assert.ok(isVp8KeyFrame(frames[0]!.data));
  assert.ok(frames.some((f) => f.packets > 1), 'a key frame spans several packets');
  // A lost packet makes its frame incomplete.
  const packets = video.packets.map((p) => parseRtp(p.bytes));
  const lost = depacketizeVp8(packets.filter((_, i) => i !== 1));
  assert.equal(lost[0]!.complete, false);
  assert.ok(lost.slice(1).every((f) => f.complete));
});

test('Chromium decodes every frame of the plain recording (the control) and nothing of random bytes of the same sizes', async () => {
  const browser = await launchChromium();
  after(() => browser.close());
  const page = await openDecoderPage(browser);
  const frames = depacketizeVp8(video.packets.map((p) => parseRtp(p.bytes))).map((f) => ({ data: f.data, key: isVp8KeyFrame(f.data) }));
  assert.deepEqual(await decodeVp8(page, frames, 'stream'), { decoded: 69, errors: 0, fed: 69 });
  const random = frames.map((f) => ({ data: new Uint8Array(randomBytes(f.data.length)), key: true }));
  const noise = await decodeVp8(page, random, 'each-as-key');
  assert.equal(noise.decoded, 0);
  const opus = await decodeOpus(page, audio.packets.map((p) => parseRtp(p.bytes).payload));
  assert.equal(opus.decoded, 232);
  assert.equal(opus.errors, 0);
  assert.equal(opus.samples!.length, 232 * 960);
});

function rtp(sequence: number): Uint8Array {
  const p = new Uint8Array(16);
  p[0] = 0x80;
  p[1] = 111;
  p[3] = sequence;
  p.set([1, 2, 3, 4], 12);
  return p;
}

function mjr(info: string, packets: Uint8Array[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from('MJR00002'), Buffer.from([0, info.length]), Buffer.from(info)];
  for (const [i, p] of packets.entries()) {
    parts.push(Buffer.from('MEET'), Buffer.from([0, 0, 0, i * 20]), Buffer.from([0, p.length]), Buffer.from(p));
  }
  return new Uint8Array(Buffer.concat(parts));
}
