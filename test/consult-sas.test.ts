/**
 * The consultation's short authentication string (issue 11 review, F1, F3,
 * F5): a key-swapping relay cannot make both sides' codes match by grinding
 * substitute keys, because every code mixes in nonces committed before any is
 * revealed; the code binds every participant's id, index, role, name and
 * key; a reveal that does not match its commitment, or comes before every
 * commitment, is refused; a relayed "codes match" for another code is never
 * shown as checked. Real X25519 keys and WebCrypto SHA-256; no mocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCallKeyPair, type CallKeyPair } from '../shared/consult/call-keys';
import { fromBase64url, toBase64url } from '../shared/consult/base64url';
import { newSasNonce, sasCommitment, shortAuthString, type SasParticipant } from '../shared/consult/short-auth-string';
import { judgeConfirmation, SasError, SasRound } from '../shared/consult/sas-round';
import { clientMessageSchema, serverMessageSchema } from '../shared/consult/signaling-messages';
import { codeConfirmationLines, encryptionWords } from '../renderer/consult/call-words';
import { initialCallState, type CallState } from '../renderer/consult/call-state';

const CALL = '6f1c1f0e-8a4e-4d7c-9a59-3f1b2c4d5e6f';
const ROUND = 7;
const A_ID = 'participant-aaaa';
const P_ID = 'participant-pppp';

const person = (participantId: string, index: number, role: string, displayName: string, publicKey: Uint8Array): SasParticipant => ({ participantId, index, role, displayName, publicKey });

/** Runs one honest round among `views` (each its own roster view), delivering every commit, then every reveal, as a fair relay would. */
async function honestRound(views: Array<{ selfId: string; participants: SasParticipant[] }>): Promise<string[]> {
  const rounds = await Promise.all(views.map((v) => SasRound.start({ callId: CALL, round: ROUND, ...v })));
  for (const [i, r] of rounds.entries()) for (const [j, other] of rounds.entries()) if (i !== j) r.commit(views[j]!.selfId, other.commitment);
  const codes: string[] = [];
  for (const [i, r] of rounds.entries()) {
    for (const [j, other] of rounds.entries()) if (i !== j) await r.accept(views[j]!.selfId, other.reveal());
    codes.push(r.result!);
  }
  return codes;
}

test('SAS: the code changes with any nonce, participant id, index, role, name or key, and not with order', async () => {
  const [a, p] = await Promise.all([generateCallKeyPair(), generateCallKeyPair()]);
  const people = [person(A_ID, 0, 'host', 'Dr Kim Lee', a.publicKey), person(P_ID, 1, 'patient', 'Patient', p.publicKey)];
  const nonces = [newSasNonce(), newSasNonce()];
  const base = { callId: CALL, round: ROUND, participants: people, nonces };
  const code = await shortAuthString(base);
  assert.match(code, /^\d{6}$/);
  assert.equal(await shortAuthString({ ...base, participants: [people[1]!, people[0]!], nonces: [nonces[1]!, nonces[0]!] }), code, 'order-independent');
  const changed = (i: number, patch: Partial<SasParticipant>) => people.map((x, k) => (k === i ? { ...x, ...patch } : x));
  const variants: Array<[string, Parameters<typeof shortAuthString>[0]]> = [
    ['round', { ...base, round: ROUND + 1 }],
    ['call id', { ...base, callId: '0b7f3e2a-1c9d-4e8f-a6b5-c4d3e2f1a0b9' }],
    ['a nonce', { ...base, nonces: [nonces[0]!, Uint8Array.from(nonces[1]!, (b, i) => (i === 31 ? b ^ 1 : b))] }],
    ['participant id', { ...base, participants: changed(1, { participantId: 'participant-qqqq' }) }],
    ['index', { ...base, participants: changed(1, { index: 2 }) }],
    ['role', { ...base, participants: changed(1, { role: 'guest' }) }],
    ['display name', { ...base, participants: changed(0, { displayName: 'Dr Mallory' }) }],
    ['key', { ...base, participants: changed(1, { publicKey: Uint8Array.from(p.publicKey, (b, i) => (i === 0 ? b ^ 0x80 : b)) }) }],
    ['roles swapped', { ...base, participants: [{ ...people[0]!, role: 'patient' }, { ...people[1]!, role: 'host' }] }],
  ];
  for (const [what, input] of variants) assert.notEqual(await shortAuthString(input), code, `bound to the ${what}`);
});

test('SAS: honest participants get the same code from a complete round, and a new round a new code', async () => {
  const [a, p] = await Promise.all([generateCallKeyPair(), generateCallKeyPair()]);
  const people = [person(A_ID, 0, 'host', 'Dr Kim Lee', a.publicKey), person(P_ID, 1, 'patient', 'Patient', p.publicKey)];
  const [codeA, codeP] = await honestRound([{ selfId: A_ID, participants: people }, { selfId: P_ID, participants: people }]);
  assert.equal(codeA, codeP);
  const [again] = await honestRound([{ selfId: A_ID, participants: people }, { selfId: P_ID, participants: people }]);
  assert.notEqual(again, codeA, 'fresh nonces every round (1 in 10^6 to collide)');
});

test('SAS: the birthday-search relay from the review cannot make the codes match once nonces are committed first', async () => {
  const [a, p] = await Promise.all([generateCallKeyPair(), generateCallKeyPair()]);
  // The relay sits in the middle: to A it presents "P" with key M_P, to P it presents "A" with key M_A.
  // Each side draws its nonce and commits; the relay sees both commitments (not the nonces).
  const viewOfA = (mp: Uint8Array) => [person(A_ID, 0, 'host', 'Dr Kim Lee', a.publicKey), person(P_ID, 1, 'patient', 'Patient', mp)];
  const viewOfP = (ma: Uint8Array) => [person(A_ID, 0, 'host', 'Dr Kim Lee', ma), person(P_ID, 1, 'patient', 'Patient', p.publicKey)];
  // The relay's own nonces for the two impostors, fixed now because it must commit to them before A and P reveal.
  const relayNonceAsP = newSasNonce();
  const relayNonceAsA = newSasNonce();
  // The review's attack, adapted: grind substitute keys (about 2 x 1000 pairs) until the two codes collide, using the
  // best it can know of the honest nonces when it must commit (nothing: it guesses zeros).
  const guess = new Uint8Array(32);
  const codeFor = (participants: SasParticipant[], nonces: Uint8Array[]) => shortAuthString({ callId: CALL, round: ROUND, participants, nonces });
  const seenByA = new Map<string, CallKeyPair>();
  for (let i = 0; i < 3000; i++) {
    const mp = await generateCallKeyPair();
    seenByA.set(await codeFor(viewOfA(mp.publicKey), [guess, relayNonceAsP]), mp);
  }
  let found: { mp: CallKeyPair; ma: CallKeyPair } | null = null;
  for (let i = 0; i < 12_000 && !found; i++) {
    const ma = await generateCallKeyPair();
    const mp = seenByA.get(await codeFor(viewOfP(ma.publicKey), [relayNonceAsA, guess]));
    if (mp) found = { mp, ma };
  }
  assert.ok(found, 'the grind still finds keys that collide under the guessed nonces (as in the review)');
  const { mp, ma } = found!;

  const roundA = await SasRound.start({ callId: CALL, round: ROUND, selfId: A_ID, participants: viewOfA(mp.publicKey) });
  const roundP = await SasRound.start({ callId: CALL, round: ROUND, selfId: P_ID, participants: viewOfP(ma.publicKey) });
  // Neither honest side reveals before it holds every commitment.
  assert.throws(() => roundA.reveal(), (e: unknown) => e instanceof SasError && e.code === 'REVEAL_BEFORE_COMMITMENTS');
  // The relay must hand A a commitment "from P" and P one "from A" before either reveals: it commits to its own nonces.
  assert.equal(roundA.commit(P_ID, toBase64url(await sasCommitment(CALL, ROUND, P_ID, relayNonceAsP))), true);
  assert.equal(roundP.commit(A_ID, toBase64url(await sasCommitment(CALL, ROUND, A_ID, relayNonceAsA))), true);
  // Now they reveal; the relay learns the real nonces only now, and can only open what it committed.
  const nonceA = roundA.reveal();
  const nonceP = roundP.reveal();
  const codeA = await roundA.accept(P_ID, toBase64url(relayNonceAsP));
  // Knowing both real nonces now, the relay could grind a nonce "from A" that makes P's code equal A's: P refuses it.
  await assert.rejects(roundP.accept(A_ID, toBase64url(newSasNonce())), (e: unknown) => e instanceof SasError && e.code === 'REVEAL_MISMATCH');
  const codeP = await roundP.accept(A_ID, toBase64url(relayNonceAsA));
  assert.ok(codeA && codeP);
  assert.notEqual(codeA, codeP, `the grind was worthless: A sees ${codeA}, P sees ${codeP} (a match is 1 in 10^6)`);
  // The guessed-nonce collision the relay found is not what either side computes.
  assert.notEqual(await codeFor(viewOfA(mp.publicKey), [fromBase64url(nonceA), relayNonceAsP]), await codeFor(viewOfA(mp.publicKey), [guess, relayNonceAsP]));
  assert.equal(await codeFor(viewOfP(ma.publicKey), [relayNonceAsA, fromBase64url(nonceP)]), codeP);

  // Over many rounds with fresh nonces, a relay that commits before the last honest reveal never lands a match.
  let matches = 0;
  for (let i = 0; i < 50; i++) {
    const rA = await SasRound.start({ callId: CALL, round: ROUND + 1 + i, selfId: A_ID, participants: viewOfA(mp.publicKey) });
    const rP = await SasRound.start({ callId: CALL, round: ROUND + 1 + i, selfId: P_ID, participants: viewOfP(ma.publicKey) });
    const [nP, nA] = [newSasNonce(), newSasNonce()];
    rA.commit(P_ID, toBase64url(await sasCommitment(CALL, rA.round, P_ID, nP)));
    rP.commit(A_ID, toBase64url(await sasCommitment(CALL, rP.round, A_ID, nA)));
    if ((await rA.accept(P_ID, toBase64url(nP))) === (await rP.accept(A_ID, toBase64url(nA)))) matches++;
  }
  assert.equal(matches, 0);
});

test('SAS: a reveal that does not match its commitment, a reveal before every commitment, a second commitment, a stranger: refused', async () => {
  const keys = await Promise.all([generateCallKeyPair(), generateCallKeyPair(), generateCallKeyPair()]);
  const people = [person(A_ID, 0, 'host', 'Dr Kim Lee', keys[0]!.publicKey), person(P_ID, 1, 'patient', 'Patient', keys[1]!.publicKey), person('participant-iiii', 2, 'guest', 'Interpreter', keys[2]!.publicKey)];
  const fails = (code: string) => (e: unknown) => e instanceof SasError && e.code === code;
  const nonceP = newSasNonce();
  const nonceI = newSasNonce();
  const round = await SasRound.start({ callId: CALL, round: ROUND, selfId: A_ID, participants: people });
  round.commit(P_ID, toBase64url(await sasCommitment(CALL, ROUND, P_ID, nonceP)));
  // P reveals while I's commitment is missing: an honest P never would.
  await assert.rejects(round.accept(P_ID, toBase64url(nonceP)), fails('REVEAL_BEFORE_COMMITMENTS'));
  assert.throws(() => round.reveal(), fails('REVEAL_BEFORE_COMMITMENTS'), 'A keeps its own nonce back too');
  assert.equal(round.commit('participant-iiii', toBase64url(await sasCommitment(CALL, ROUND, 'participant-iiii', nonceI))), true);
  assert.throws(() => round.commit(P_ID, toBase64url(newSasNonce())), fails('COMMITMENT_CONFLICT'));
  assert.throws(() => round.commit('participant-xxxx', toBase64url(new Uint8Array(32))), fails('NOT_IN_ROUND'));
  assert.throws(() => round.commit(P_ID, 'short'), fails('MALFORMED'));
  // Another nonce than the committed one, P's nonce offered as I's, I's nonce for another round: all refused.
  await assert.rejects(round.accept(P_ID, toBase64url(newSasNonce())), fails('REVEAL_MISMATCH'));
  await assert.rejects(round.accept('participant-iiii', toBase64url(nonceP)), fails('REVEAL_MISMATCH'));
  const otherRound = await SasRound.start({ callId: CALL, round: ROUND + 1, selfId: A_ID, participants: people });
  otherRound.commit(P_ID, toBase64url(await sasCommitment(CALL, ROUND, P_ID, nonceP)));
  otherRound.commit('participant-iiii', toBase64url(await sasCommitment(CALL, ROUND, 'participant-iiii', nonceI)));
  await assert.rejects(otherRound.accept(P_ID, toBase64url(nonceP)), fails('REVEAL_MISMATCH'), 'a commitment is bound to its round');
  assert.equal(round.result, null, 'no code from a round with a refused reveal');
  // The honest reveals still complete the round.
  assert.equal(await round.accept(P_ID, toBase64url(nonceP)), null);
  assert.match((await round.accept('participant-iiii', toBase64url(nonceI)))!, /^\d{6}$/);
});

test('SAS messages on the wire: exactly 32 bytes base64url, a round, strict (server adds seq and from)', () => {
  const b32 = toBase64url(new Uint8Array(32).fill(0xff));
  assert.ok(clientMessageSchema.safeParse({ type: 'sas-commit', round: 3, commitment: b32 }).success);
  assert.ok(clientMessageSchema.safeParse({ type: 'sas-reveal', round: 3, nonce: b32 }).success);
  for (const bad of [
    { type: 'sas-commit', round: 3, commitment: b32.slice(1) },
    { type: 'sas-commit', round: 3, commitment: `${b32}A` },
    { type: 'sas-commit', round: 3, commitment: `${b32.slice(0, 42)}9` },
    { type: 'sas-reveal', round: -1, nonce: b32 },
    { type: 'sas-reveal', nonce: b32 },
    { type: 'sas-reveal', round: 3, nonce: b32, from: 'participant-aaaa' },
    { type: 'code-confirmed', code: '123456' },
  ]) assert.equal(clientMessageSchema.safeParse(bad).success, false, JSON.stringify(bad));
  assert.ok(serverMessageSchema.safeParse({ type: 'sas-reveal', seq: 9, from: A_ID, round: 3, nonce: b32 }).success);
  assert.ok(serverMessageSchema.safeParse({ type: 'code-confirmed', seq: 9, participantId: A_ID, round: 3, code: '123456' }).success);
  assert.equal(serverMessageSchema.safeParse({ type: 'code-confirmed', seq: 9, participantId: A_ID }).success, false, 'a confirmation names its code');
});

function inCall(code: string | null, others: Array<{ confirmedCode: string | null; codeConfirmed: boolean }>): CallState {
  return {
    ...initialCallState(),
    phase: 'in-call',
    encryption: 'e2ee-unverified',
    code,
    participants: [
      { participantId: P_ID, role: 'patient', displayName: 'Patient', self: true, verifiedDevice: false, stream: null, decrypting: true, codeConfirmed: false, confirmedCode: null },
      ...others.map((o, i) => ({ participantId: `participant-c${i}cc`, role: 'host' as const, displayName: 'Dr Kim Lee', self: false, verifiedDevice: true, stream: null, decrypting: true, ...o })),
    ],
  };
}

test('a relayed "codes match" for a different code is never shown as checked; one for this code is a separate line, never the badge', () => {
  // The engine's rule for a relayed confirmation.
  assert.equal(judgeConfirmation({ round: 5, code: '123456' }, { round: 5, code: '123456' }), 'match');
  assert.equal(judgeConfirmation({ round: 5, code: '123456' }, { round: 5, code: '654321' }), 'differs');
  assert.equal(judgeConfirmation({ round: 5, code: null }, { round: 5, code: '654321' }), 'differs', 'no code of our own for the round: not a match');
  assert.equal(judgeConfirmation({ round: 5, code: '123456' }, { round: 4, code: '123456' }), 'stale', 'another round never counts');
  assert.equal(judgeConfirmation({ round: null, code: null }, { round: 5, code: '123456' }), 'stale');

  const differs = inCall('123456', [{ confirmedCode: '654321', codeConfirmed: false }]);
  const [line] = codeConfirmationLines(differs);
  assert.equal(line!.tone, 'bad');
  assert.equal(line!.text, 'Dr Kim Lee confirmed a different code (654 321): do not continue');
  assert.doesNotMatch(encryptionWords(differs, true).text, /code checked/);
  // Even a participant flagged confirmed but naming another code is not shown as this code.
  assert.equal(codeConfirmationLines(inCall('123456', [{ confirmedCode: '654321', codeConfirmed: true }]))[0]!.tone, 'bad');

  const same = inCall('123456', [{ confirmedCode: '123456', codeConfirmed: true }]);
  assert.deepEqual(codeConfirmationLines(same).map((l) => [l.tone, l.text]), [['ok', 'Dr Kim Lee confirmed the code 123 456']]);
  const badge = encryptionWords(same, true);
  assert.equal(badge.tone, 'warn', 'the remote confirmation never turns this page to checked');
  assert.equal(badge.text, 'End-to-end encrypted, code not yet checked');
  assert.equal(encryptionWords({ ...same, encryption: 'e2ee-verified' }, true).text, 'End-to-end encrypted, code checked', 'only the local click does');
  assert.deepEqual(codeConfirmationLines(inCall(null, [])), []);
});
