/**
 * Attacks on a consultation through the real Janus, coturn and backend, with
 * the backend's join page in Chromium (fake camera and microphone):
 *  - a signaling relay that swaps the call public keys (a man in the middle
 *    between one participant's page and the backend, rewriting callKey in
 *    join, welcome and joined) yields different codes on the two sides, and
 *    the participant behind it, holding keys that are not the others', decodes
 *    nothing and says so ("Cannot decrypt media from …");
 *  - a reused join link, an expired join link, an uninvited clinician and
 *    garbled signaling messages are each refused with a clear error while the
 *    call goes on for the others (their remote video keeps showing frames).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateCallKeyPair } from '../../shared/consult/call-keys';
import { toBase64url } from '../../shared/consult/base64url';
import { scratchDir } from '../support/scratch';
import { consultRoom, pageMedia, pageState, waitForRemoteFrames } from './consult-room';
import { joinNodeParticipant } from './node-participant';
import { startSignalingProxy } from './signaling-proxy';

const scratch = scratchDir('consult-attacks');
after(() => scratch.remove());

test('a relay that swaps the call keys: the two sides show different codes, and the side behind it decodes nothing and says so', { timeout: 240_000 }, async () => {
  const room = await consultRoom(join(scratch.path, 'mitm'));
  after(() => room.close());
  const attacker = toBase64url((await generateCallKeyPair()).publicKey);
  let self: string | null = null;
  let realKey: string | null = null;
  // Everyone else's key becomes the attacker's; the victim's own key is shown back to it as it sent it.
  const swapKey = (participant: Record<string, unknown>) => {
    const publicKey = participant.participantId === self ? realKey : attacker;
    return { ...participant, callKey: { ...(participant.callKey as object), publicKey } };
  };
  const proxy = await startSignalingProxy(room.backend.url, (direction, message) => {
    if (direction === 'to-server' && message.type === 'join') {
      realKey = (message.callKey as { publicKey: string }).publicKey;
      return { ...message, callKey: { publicKey: attacker } };
    }
    if (direction === 'to-client' && message.type === 'welcome') {
      self = message.participantId as string;
      return { ...message, roster: (message.roster as Record<string, unknown>[]).map(swapKey) };
    }
    if (direction === 'to-client' && message.type === 'joined') return { ...message, participant: swapKey(message.participant as Record<string, unknown>) };
    return message;
  });
  after(() => proxy.close());
  const callId = await room.startCall();
  const patient = await room.joinPage(await room.invite(callId, 'patient'));
  const interpreter = await room.joinPage(await room.invite(callId, 'interpreter'), { origin: proxy.origin });

  const code = (page: typeof patient) => page.getByTestId('consult-code-digits').textContent();
  await patient.getByTestId('consult-code-digits').waitFor();
  await interpreter.getByTestId('consult-code-digits').waitFor().catch(async (e: unknown) => {
    throw new Error(`${String(e)}\n${await pageState(interpreter)}`);
  });
  // Each side's code covers the keys it was shown: they cannot agree.
  await patient.getByTestId('consult-tile').nth(1).waitFor();
  const [a, b] = [await code(patient), await code(interpreter)];
  assert.ok(proxy.rewritten >= 2, `the relay did rewrite the keys in join and welcome (${proxy.rewritten} messages)`);
  assert.match(a ?? '', /^\d{3} \d{3}$/);
  assert.match(b ?? '', /^\d{3} \d{3}$/);
  assert.notEqual(a, b, 'the codes differ: reading them aloud exposes the man in the middle');

  // The keys sealed to the swapped public keys open nowhere: each side says it cannot decrypt the other, and shows nothing of it.
  await interpreter.getByTestId('consult-cannot-decrypt').waitFor({ timeout: 60_000 }).catch(async (e: unknown) => {
    throw new Error(`${String(e)}\n${await pageState(interpreter)}`);
  });
  await patient.getByTestId('consult-cannot-decrypt').waitFor({ timeout: 60_000 });
  assert.match((await interpreter.getByTestId('consult-cannot-decrypt').textContent()) ?? '', /Cannot decrypt media from Patient/);
  const seen = await pageMedia(interpreter);
  assert.equal(seen.framesShown, 0, `the side behind the relay decodes no frame (${JSON.stringify(seen)})`);
});

test('a reused link, an expired link, an uninvited clinician and garbled messages are refused clearly while the call goes on', { timeout: 240_000 }, async () => {
  const ttlSeconds = 40;
  const room = await consultRoom(join(scratch.path, 'refusals'), { backendFlags: ['--invite-ttl-seconds', String(ttlSeconds)] });
  after(() => room.close());
  const callId = await room.startCall();
  // This one is left to expire.
  const expiring = await room.invite(callId, 'family');
  const patientLink = await room.invite(callId, 'patient');
  const patient = await room.joinPage(patientLink);
  const interpreter = await room.joinPage(await room.invite(callId, 'interpreter'));
  await Promise.all([waitForRemoteFrames(patient, 1, 10, 60_000), waitForRemoteFrames(interpreter, 1, 10, 60_000)]);
  const shownBefore = await Promise.all([patient, interpreter].map(async (p) => (await pageMedia(p)).framesShown));

  // 1. The patient's link again, in another browser tab: one plain sentence, no call.
  const again = await room.joinPage(patientLink);
  await again.getByTestId('join-invalid').waitFor();
  assert.match((await again.getByTestId('join-invalid').textContent()) ?? '', /This link is no longer valid/);
  await again.close();
  const reusedByScript = await joinNodeParticipant({ backendUrl: room.backend.url, callId, token: patientLink.token });
  const reused = await reusedByScript.next('error');
  assert.equal(reused.code, 'NOT_ALLOWED');
  await reusedByScript.closed();

  // 2. An uninvited clinician (a valid session of this backend, no invitation, no patient of theirs).
  const outsider = await room.enrollClinician('dr.outside');
  const uninvited: Awaited<ReturnType<typeof joinNodeParticipant>> | Error = await joinNodeParticipant({ backendUrl: room.backend.url, callId, authorization: `Bearer ${outsider}` }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  if (uninvited instanceof Error) {
    assert.match(uninvited.message, /refused: 40[134]/, 'refused before the upgrade');
  } else {
    const refused = await uninvited.next('error');
    assert.equal(refused.code, 'NOT_ALLOWED');
    assert.equal(uninvited.participantId(), null, 'never welcomed');
  }

  // 3. Garbled messages from a joined participant: each answered INVALID_MESSAGE, nothing relayed, the call goes on.
  const family = await joinNodeParticipant({ backendUrl: room.backend.url, callId, token: (await room.invite(callId, 'family')).token });
  await family.next('welcome');
  for (const junk of ['{not json', JSON.stringify({ type: 'key', to: 'x' }), JSON.stringify({ type: 'publish', jsep: { type: 'offer', sdp: '' } }), JSON.stringify({ type: 'code-confirmed', code: 'abcdef' })]) family.sendRaw(junk);
  await family.next('error', (m) => m.code === 'INVALID_MESSAGE');
  assert.ok(family.messages.filter((m) => m.type === 'error' && m.code === 'INVALID_MESSAGE').length >= 1);
  assert.deepEqual(family.unparsed, [], 'every answer is a protocol message');
  family.close();

  // 4. The link left unused until after it expired.
  const wait = Date.parse(expiring.expiresAt) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait + 1000)); // the expiry is a moment in time, not an event
  const expiredPage = await room.joinPage(expiring);
  await expiredPage.getByTestId('join-invalid').waitFor();
  await expiredPage.close();

  // Through all of it, both sides kept receiving each other's video.
  await Promise.all([waitForRemoteFrames(patient, 1, shownBefore[0]! + 30, 60_000), waitForRemoteFrames(interpreter, 1, shownBefore[1]! + 30, 60_000)]);
  for (const page of [patient, interpreter]) assert.equal(await page.getByTestId('consult-call').getAttribute('data-phase'), 'in-call');
});
