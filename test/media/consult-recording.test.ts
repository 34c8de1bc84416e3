/**
 * A whole consultation through the real Janus (recording the room with its
 * own recorder) and coturn: the backend's join page in Chromium for two
 * participants with fake camera and microphone, and a third, legitimate
 * participant in the test process that only holds the keys sealed to it.
 *  - both pages decode video and audio: frames shown > 0 on every remote
 *    video, the picture is not uniform (the fake camera's pattern, sampled
 *    through a canvas), and the remote sound is not silence;
 *  - both pages say "end-to-end encrypted, code not yet checked" and show the
 *    same 6-digit code;
 *  - what the media server saw is ciphertext: from Janus's .mjr files, every
 *    video frame (after the VP8 payload descriptor) and every audio payload
 *    starts with a valid SFrame header whose KID names a participant of the
 *    call; Chromium's decoders make no video frame of the recording without
 *    the key, and the Opus decoder's output of it is not the call's sound;
 *  - after a participant leaves, every sender starts a new key epoch: the
 *    recording (what that participant would still get from the media server)
 *    holds frames under the new KIDs, the keys the leaver held open none of
 *    them, and the others go on seeing each other;
 *  - the control that makes the above able to fail: the keys a participant
 *    holds (opened from the signaling, as the participant is entitled to)
 *    decrypt the same recording into frames Chromium decodes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch';
import { analyseRecordingDir, decryptFrames } from './recording-analysis';
import { consultRoom, pageMedia, waitForRemoteFrames } from './consult-room';
import { joinNodeParticipant } from './node-participant';
import { decodeOpus, decodeVp8, openDecoderPage } from './webcodecs-decoder';
import { isVp8KeyFrame } from '../support/rtp-payload';
import { launchChromium } from '../browser/harness';
import { parseSFrameHeader } from '../../shared/sframe';

const scratch = scratchDir('consult-recording');
after(() => scratch.remove());

/** Pearson correlation of two sample runs over their common length (0 when either is silent). */
function correlation(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

test('a call through Janus and coturn: both sides see and hear each other, and Janus recorded only SFrame ciphertext that a participant key turns back into media', { timeout: 240_000 }, async (t) => {
  const recordDir = join(scratch.path, 'recordings');
  const room = await consultRoom(join(scratch.path, 'room'), { recordDir });
  let closed = false;
  after(async () => {
    if (!closed) await room.close();
  });
  const callId = await room.startCall();
  const [patientLink, interpreterLink, familyLink] = [await room.invite(callId, 'patient'), await room.invite(callId, 'interpreter'), await room.invite(callId, 'family')];

  // The key holder joins first, so every sender's key of every epoch is sealed to it too.
  const keyHolder = await joinNodeParticipant({ backendUrl: room.backend.url, callId, token: familyLink.token });
  await keyHolder.next('welcome');

  const patient = await room.joinPage(patientLink);
  const interpreter = await room.joinPage(interpreterLink);
  await Promise.all([waitForRemoteFrames(patient, 1, 30, 30_000), waitForRemoteFrames(interpreter, 1, 30, 30_000)]);

  for (const page of [patient, interpreter]) {
    const media = await pageMedia(page);
    assert.equal(media.remoteVideos, 1, 'one remote participant with media (the key holder sends none)');
    assert.ok(media.framesShown > 30, `frames shown: ${media.framesShown}`);
    assert.ok(media.pictureLevels > 4, `the fake camera's picture is on screen (grey levels: ${media.pictureLevels})`);
    assert.ok(media.audioPeak > 0.01, `the other side is heard (peak ${media.audioPeak})`);
    assert.equal(await page.getByTestId('consult-encryption').getAttribute('data-encryption'), 'e2ee-unverified');
  }
  const codes = await Promise.all([patient, interpreter].map((p) => p.getByTestId('consult-code-digits').textContent()));
  assert.match(codes[0] ?? '', /\d/);
  assert.equal(codes[0], codes[1], 'both sides show the same code');
  assert.equal(keyHolder.code(), (codes[0] ?? '').replace(/\D/g, ''), 'the participant in the test process (it sends no media) computed the same code');

  // The key holder leaves mid-call: both senders start a new epoch, whose keys reach only the present.
  const holderId = keyHolder.participantId()!;
  const senderParticipants = keyHolder.roster().filter((p) => p.participantId !== holderId);
  const latestEpochs = () => new Map(senderParticipants.map((p) => [p.participantId, Math.max(...keyHolder.messages.filter((m) => m.type === 'key' && m.from === p.participantId).map((m) => (m as { epoch: number }).epoch))]));
  // An observer who stays (joining is itself a new epoch, which the key holder still gets).
  const beforeObserver = latestEpochs();
  const observer = await joinNodeParticipant({ backendUrl: room.backend.url, callId, token: (await room.invite(callId, 'family')).token });
  await observer.next('welcome');
  for (const p of senderParticipants) await keyHolder.next('key', (m) => m.from === p.participantId && m.epoch > beforeObserver.get(p.participantId)!);
  const lastEpoch = latestEpochs();
  keyHolder.close();
  await observer.next('left', (m) => m.participantId === holderId);
  for (const p of senderParticipants) await observer.next('key', (m) => m.from === p.participantId && m.epoch > lastEpoch.get(p.participantId)!);
  const shown = await Promise.all([patient, interpreter].map(async (p) => (await pageMedia(p)).framesShown));
  await Promise.all([waitForRemoteFrames(patient, 1, shown[0]! + 30, 30_000), waitForRemoteFrames(interpreter, 1, shown[1]! + 30, 30_000)]);

  // Everyone leaves; the room's recorders close with their publishers.
  for (const page of [patient, interpreter]) await page.getByTestId('consult-hang-up').click();
  observer.close();
  const keyFor = keyHolder.keyFor;
  assert.ok(keyHolder.keyCounts().opened >= 2, `the key holder opened the senders' keys (${JSON.stringify(keyHolder.keyCounts())})`);
  // Stopping Janus closes every recorder (the files are complete); the analysis needs no call.
  await room.close();
  closed = true;
  const decoderBrowser = await launchChromium();
  after(() => decoderBrowser.close());
  const decoder = await openDecoderPage(decoderBrowser);

  const streams = analyseRecordingDir(recordDir);
  const video = streams.filter((s) => s.kind === 'video');
  const audio = streams.filter((s) => s.kind === 'audio');
  assert.equal(video.length, 2, 'one recorded video stream per publisher');
  assert.equal(audio.length, 2, 'one recorded audio stream per publisher');
  const senders = new Set(keyHolder.everyone().filter((p) => p.participantId !== keyHolder.participantId()).map((p) => p.index));

  for (const stream of [...video, ...audio]) {
    assert.equal(stream.codec, stream.kind === 'video' ? 'vp8' : 'opus');
    assert.ok(stream.frames.length > 20, `${stream.kind}: ${stream.frames.length} frames recorded`);
    assert.equal(stream.sframeFrames, stream.frames.length, `${stream.kind}: every recorded frame starts with an SFrame header`);
    assert.equal(stream.plaintextLooking, 0, 'no VP8 key frame in the clear');
    assert.ok(stream.kids.length >= 1 && stream.kids.every((k) => senders.has(k.senderIndex)), 'every KID names a participant of the call');
    assert.equal(new Set(stream.kids.map((k) => k.senderIndex)).size, 1, 'one sender per stream');
  }

  // After the leave: frames under the later epochs exist, and the keys the leaver held open none of them.
  const epochOf = (f: { data: Uint8Array }) => Number(parseSFrameHeader(f.data).kid >> 8n);
  const split = new Map<string, { before: typeof video[number]['frames']; after: typeof video[number]['frames'] }>();
  for (const stream of [...video, ...audio]) {
    const sender = senderParticipants.find((p) => stream.kids.some((k) => k.senderIndex === p.index))!;
    const before = stream.frames.filter((f) => epochOf(f) <= lastEpoch.get(sender.participantId)!);
    const after_ = stream.frames.filter((f) => epochOf(f) > lastEpoch.get(sender.participantId)!);
    split.set(stream.file, { before, after: after_ });
    assert.ok(after_.length > 10, `${stream.kind}: ${after_.length} frames recorded under epochs after the leave`);
    const byLeaver = await decryptFrames(after_, keyFor);
    assert.equal(byLeaver.plaintexts.length, 0, `${stream.kind}: the participant who left decrypts nothing sent after it left`);
    t.diagnostic(`${stream.kind}: ${before.length} frames while the key holder was in the call, ${after_.length} after it left; it opens ${byLeaver.plaintexts.length} of those`);
  }

  for (const stream of video) {
    // Without the key: not one frame, even offering each as a key frame to a fresh decoder.
    const raw = await decodeVp8(decoder, stream.frames.map((f) => ({ data: f.data, key: true })), 'each-as-key');
    assert.equal(raw.decoded, 0, `video without the key: ${JSON.stringify(raw)}`);
    // With a participant's keys: what was recorded while it was in the call decodes.
    const { plaintexts, failed } = await decryptFrames(split.get(stream.file)!.before, keyFor);
    assert.equal(failed, 0, 'every frame recorded while it was in the call opens with the participant keys');
    const clear = await decodeVp8(decoder, plaintexts.map((data) => ({ data, key: isVp8KeyFrame(data) })), 'stream');
    assert.ok(plaintexts.some(isVp8KeyFrame), 'the decrypted stream has key frames');
    assert.ok(clear.decoded >= plaintexts.length * 0.9 && clear.errors === 0, `decrypted video decodes: ${JSON.stringify(clear)} of ${plaintexts.length}`);
    t.diagnostic(`video ${stream.file.replace(/.*-(video|audio)/, '$1')}: ${stream.frames.length} frames recorded, all SFrame; without key ${raw.decoded} decoded (${raw.errors} errors); with a participant's keys ${clear.decoded} decoded`);
  }

  for (const stream of audio) {
    const { plaintexts, failed } = await decryptFrames(split.get(stream.file)!.before, keyFor);
    assert.equal(failed, 0);
    const clear = await decodeOpus(decoder, plaintexts);
    assert.equal(clear.decoded, plaintexts.length, 'decrypted audio decodes, packet for packet');
    assert.equal(clear.errors, 0);
    const raw = await decodeOpus(decoder, split.get(stream.file)!.before.map((f) => f.data));
    // Opus makes noise of almost any bytes; what matters is that it is not the call's sound.
    const r = correlation(raw.samples ?? [], clear.samples ?? []);
    assert.ok(Math.abs(r) < 0.1, `audio without the key is not the call's sound (correlation ${r.toFixed(3)}, ${raw.decoded} of ${raw.fed} packets gave output)`);
    t.diagnostic(`audio: ${stream.frames.length} packets recorded, all SFrame; without key ${raw.decoded} gave output, correlation with the call's sound ${r.toFixed(3)}; with the keys ${clear.decoded} decoded`);
  }
});
