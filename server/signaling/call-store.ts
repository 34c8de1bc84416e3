/**
 * What a consultation is in the database, and every change to it: starting
 * a call bound to an Encounter of a patient, invitations (a link guest's
 * one-time token stored only as its SHA-256), admission and join (the link
 * consumed atomically, at most CONSULT_MAX_PARTICIPANTS, a unique sender
 * index), and the call's ordered event log. Every event gets the call's next
 * seq in the transaction that stores it (`UPDATE consult_calls SET room_seq =
 * room_seq + 1 … RETURNING`, whose row lock orders concurrent writers on
 * every instance); on PostgreSQL the same transaction NOTIFYs the call id and
 * seq only (never the message). Authorization is the access policy's answer
 * (../authorization/access-policy.ts). Never store a token, a media key or a
 * private key; never put an id or a token into an error message.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { CONSULT_MAX_PARTICIPANTS, type CallKey, type Invitee, type Participant, type ParticipantRole, type ServerMessage } from '../../shared/consult/signaling-messages';
import type { InvitedCall } from '../../shared/consult/consult-api';
import type { Caller } from '../auth/caller';
import { mayAccessPatient, storedRecordOf } from '../authorization/access-policy';
import type { Clock } from '../clock';
import { engineOf, type Db } from '../database';
import { LINK_GUEST_DEVICE, recordConsultStep } from './consult-audit';
import { checkCodeConfirmation, checkRejoinRate, isStale, lowestFreeIndex, retireSenderIndex } from './call-limits';
import { refusal } from './signaling-refusal';

/** The PostgreSQL channel on which instances learn of new events ("<call id>:<seq>"). */
export const EVENTS_CHANNEL = 'consult_events';
/** A clinician's invitation lasts as long as this (or until the call ends). */
export const CLINICIAN_INVITE_SECONDS = 12 * 3600;

export const tokenHashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** A message as stored and relayed, without its seq (the store assigns it). */
export type RelayedMessage = ServerMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

export interface StoredEvent {
  seq: number;
  recipient: string | null;
  payload: string;
}

interface CallRow {
  id: string;
  patient_id: string;
  encounter_id: string;
  started_by: string;
  ended_at: string | null;
}

/** Who asks to join: a clinician by session, or a link guest by the hash of its token. */
export type Admission = { kind: 'clinician'; caller: Caller } | { kind: 'guest'; tokenHash: string };

const GUEST_ROLES: Record<string, { role: ParticipantRole; displayName: string }> = {
  patient: { role: 'patient', displayName: 'Patient' },
  interpreter: { role: 'guest', displayName: 'Interpreter' },
  family: { role: 'guest', displayName: 'Family member' },
};

/** Starts a call for the patient's stored Encounter; null when the caller may not write the patient or the Encounter is not that patient's. */
export async function startCall(db: Db, caller: Caller, patientId: string, encounterId: string, clock: Clock): Promise<string | null> {
  return db.transaction().execute(async (trx) => {
    if (!(await mayAccessPatient(trx, caller, 'write', patientId))) return null;
    const encounter = await storedRecordOf(trx, 'Encounter', encounterId);
    if (!encounter || encounter.patientId !== patientId) return null;
    const id = randomUUID();
    await trx.insertInto('consult_calls').values({ id, patient_id: patientId, encounter_id: encounterId, started_by: caller.clinicianId, started_at: clock().toISOString(), ended_at: null }).execute();
    await recordConsultStep(trx, caller, 'consult-start', { callId: id, patientId, encounterId, role: 'host', participantId: null }, clock);
    return id;
  });
}

/** The live call the caller started and may still read the patient of; null otherwise (one answer for every reason). */
async function hostedCall(db: Db, caller: Caller, callId: string): Promise<CallRow | null> {
  const call = await db.selectFrom('consult_calls').select(['id', 'patient_id', 'encounter_id', 'started_by', 'ended_at']).where('id', '=', callId).executeTakeFirst();
  if (!call || call.ended_at || call.started_by !== caller.clinicianId) return null;
  return (await mayAccessPatient(db, caller, 'read', call.patient_id)) ? call : null;
}

/**
 * An invitation by the call's host: a one-time token for a link guest (only
 * its hash is stored; the token is returned once), or a row naming a
 * clinician who may read the patient. null: refused (not the host's live
 * call, or a clinician who may not read the patient / does not exist).
 */
export async function createInvitation(
  db: Db,
  caller: Caller,
  callId: string,
  invitee: Invitee,
  ttlSeconds: number,
  clock: Clock,
): Promise<{ token: string | null; expiresAt: string } | null> {
  const call = await hostedCall(db, caller, callId);
  if (!call) return null;
  const now = clock();
  const base = { id: randomUUID(), call_id: callId, kind: invitee.kind, created_by: caller.clinicianId, created_at: now.toISOString(), used_at: null };
  if (invitee.kind === 'clinician') {
    if (invitee.clinicianId === caller.clinicianId) return null;
    const clinician = await db.selectFrom('clinicians').select(['id']).where('id', '=', invitee.clinicianId).where('revoked_at', 'is', null).executeTakeFirst();
    if (!clinician || !(await mayAccessPatient(db, { clinicianId: clinician.id, deviceId: '-', scope: 'full' }, 'read', call.patient_id))) return null;
    const expiresAt = new Date(now.getTime() + CLINICIAN_INVITE_SECONDS * 1000).toISOString();
    await db.insertInto('consult_invitations').values({ ...base, clinician_id: clinician.id, token_hash: null, expires_at: expiresAt }).execute();
    return { token: null, expiresAt };
  }
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
  await db.insertInto('consult_invitations').values({ ...base, clinician_id: null, token_hash: tokenHashOf(token), expires_at: expiresAt }).execute();
  return { token, expiresAt };
}

/** Live calls this clinician is invited to and may still read the patient of (newest first, at most 50). */
export async function invitedCalls(db: Db, caller: Caller, clock: Clock): Promise<InvitedCall[]> {
  const rows = await db
    .selectFrom('consult_invitations as i')
    .innerJoin('consult_calls as c', 'c.id', 'i.call_id')
    .innerJoin('clinicians as h', 'h.id', 'c.started_by')
    .select(['c.id', 'c.patient_id', 'c.encounter_id', 'c.started_at', 'h.display_name'])
    .where('i.clinician_id', '=', caller.clinicianId)
    .where('i.expires_at', '>', clock().toISOString())
    .where('c.ended_at', 'is', null)
    .orderBy('c.started_at', 'desc')
    .limit(100)
    .execute();
  const calls: InvitedCall[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.id) || calls.length >= 50) continue;
    seen.add(r.id);
    if (await mayAccessPatient(db, caller, 'read', r.patient_id)) {
      calls.push({ callId: r.id, patientId: r.patient_id, encounterId: r.encounter_id, startedBy: r.display_name, startedAt: r.started_at });
    }
  }
  return calls;
}

/** The clinician's standing in the call: host, invited clinician, or nothing (null). */
async function clinicianRole(db: Db, caller: Caller, call: CallRow, now: string): Promise<ParticipantRole | null> {
  if (!(await mayAccessPatient(db, caller, 'read', call.patient_id))) return null;
  if (call.started_by === caller.clinicianId) return 'host';
  const invitation = await db
    .selectFrom('consult_invitations')
    .select('id')
    .where('call_id', '=', call.id)
    .where('kind', '=', 'clinician')
    .where('clinician_id', '=', caller.clinicianId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return invitation ? 'clinician' : null;
}

/** The link invitation this token opens for this call, if still unused and unexpired. */
async function liveLink(db: Db, callId: string, tokenHash: string, now: string) {
  return db
    .selectFrom('consult_invitations')
    .select(['id', 'kind', 'created_by'])
    .where('token_hash', '=', tokenHash)
    .where('call_id', '=', callId)
    .where('kind', '!=', 'clinician')
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * The check of `hello`: may this clinician or link open this call? Throws
 * NOT_ALLOWED (one answer for no such call, not invited, a used, expired or
 * foreign link) or CALL_ENDED (only to someone who would otherwise be let in).
 * Consumes nothing: the link is consumed by the join.
 */
export async function checkAdmission(db: Db, who: Admission, callId: string, clock: Clock): Promise<void> {
  const now = clock().toISOString();
  const call = await db.selectFrom('consult_calls').select(['id', 'patient_id', 'encounter_id', 'started_by', 'ended_at']).where('id', '=', callId).executeTakeFirst();
  if (!call) throw refusal('NOT_ALLOWED');
  const admitted = who.kind === 'clinician' ? (await clinicianRole(db, who.caller, call, now)) !== null : Boolean(await liveLink(db, callId, who.tokenHash, now));
  if (!admitted) throw refusal('NOT_ALLOWED');
  if (call.ended_at || (await expireIfStale(db, callId, clock))) throw refusal('CALL_ENDED');
}

/** The call row locked for this transaction (a no-op UPDATE takes the row lock on PostgreSQL; SQLite transactions are IMMEDIATE). */
async function lockCall(trx: Db, callId: string): Promise<CallRow | undefined> {
  return trx
    .updateTable('consult_calls')
    .set((eb) => ({ room_seq: eb.ref('room_seq') }))
    .where('id', '=', callId)
    .returning(['id', 'patient_id', 'encounter_id', 'started_by', 'ended_at'])
    .executeTakeFirst();
}

/** Stores `message` as the call's next event (for `recipient` only, or everyone) and returns its seq; inside a transaction. */
export async function appendEvent(trx: Db, callId: string, recipient: string | null, message: RelayedMessage, clock: Clock): Promise<number> {
  if (!trx.isTransaction) throw new Error('appendEvent must run inside a transaction');
  const { room_seq } = await trx
    .updateTable('consult_calls')
    .set((eb) => ({ room_seq: eb('room_seq', '+', 1) }))
    .where('id', '=', callId)
    .returning('room_seq')
    .executeTakeFirstOrThrow();
  const seq = Number(room_seq);
  await trx.insertInto('consult_events').values({ call_id: callId, seq, recipient, payload: JSON.stringify({ ...message, seq }), created_at: clock().toISOString() }).execute();
  if (engineOf(trx) === 'postgres') await sql`select pg_notify(${EVENTS_CHANNEL}, ${`${callId}:${seq}`})`.execute(trx);
  return seq;
}

type ParticipantRow = {
  participant_id: string;
  role: string;
  display_name: string;
  public_key: string;
  signature: string | null;
  device_public_key: string | null;
  sender_index: number;
};

export function toParticipant(r: ParticipantRow): Participant {
  return {
    participantId: r.participant_id,
    role: r.role as ParticipantRole,
    displayName: r.display_name,
    callKey: { publicKey: r.public_key, ...(r.signature ? { signature: r.signature } : {}) },
    devicePublicKey: r.device_public_key,
    index: Number(r.sender_index),
  };
}

const PARTICIPANT_COLUMNS = ['participant_id', 'role', 'display_name', 'public_key', 'signature', 'device_public_key', 'sender_index', 'published_at', 'clinician_id'] as const;

export interface Joined {
  participant: Participant;
  joinSeq: number;
  roster: Participant[];
  feeds: string[];
  patientId: string;
}

/**
 * Joins the call in one transaction: re-checks admission, consumes a link
 * (only an unused, unexpired link of this call; a second use, even racing,
 * finds it used), refuses a full or ended call and a clinician rejoining too often, assigns
 * the lowest sender index no one staying holds, stores the participant and its `joined` event, audits the join. A
 * clinician already in the call (an earlier connection) is replaced: that
 * participant gets `left` first. `devicePublicKey`: the clinician's device
 * key whose signature over the call key the caller has checked.
 */
export async function joinCall(db: Db, who: Admission, callId: string, callKey: CallKey, devicePublicKey: string | null, clock: Clock): Promise<Joined> {
  return db.transaction().execute(async (trx) => {
    const now = clock().toISOString();
    const call = await lockCall(trx, callId);
    if (!call) throw refusal('NOT_ALLOWED');
    let role: ParticipantRole;
    let displayName: string;
    let actor: Caller;
    let clinicianId: string | null = null;
    if (who.kind === 'clinician') {
      const standing = await clinicianRole(trx, who.caller, call, now);
      if (!standing) throw refusal('NOT_ALLOWED');
      if (call.ended_at) throw refusal('CALL_ENDED');
      await checkRejoinRate(trx, callId, who.caller.clinicianId, clock());
      role = standing;
      clinicianId = who.caller.clinicianId;
      const clinician = await trx.selectFrom('clinicians').select('display_name').where('id', '=', clinicianId).executeTakeFirstOrThrow();
      displayName = clinician.display_name;
      actor = who.caller;
    } else {
      const link = await liveLink(trx, callId, who.tokenHash, now);
      if (!link) throw refusal('NOT_ALLOWED');
      if (call.ended_at) throw refusal('CALL_ENDED');
      // Consumed here, under the call's lock and with the same conditions: exactly one join gets it.
      const used = await trx.updateTable('consult_invitations').set({ used_at: now }).where('id', '=', link.id).where('used_at', 'is', null).executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) throw refusal('NOT_ALLOWED');
      ({ role, displayName } = GUEST_ROLES[link.kind] ?? { role: 'guest', displayName: 'Guest' });
      actor = { clinicianId: link.created_by, deviceId: LINK_GUEST_DEVICE, scope: 'full' };
    }
    const active = await trx.selectFrom('consult_participants').select(PARTICIPANT_COLUMNS).where('call_id', '=', callId).where('left_at', 'is', null).execute();
    const replaced = clinicianId ? active.filter((p) => p.clinician_id === clinicianId) : [];
    if (active.length - replaced.length >= CONSULT_MAX_PARTICIPANTS) throw refusal('CALL_FULL');
    // The lowest index no one staying holds (a departed participant's index is reused under the newcomer's own key epochs).
    const index = lowestFreeIndex(active.filter((p) => !replaced.includes(p)).map((p) => Number(p.sender_index)));
    for (const old of replaced) {
      await trx.updateTable('consult_participants').set({ left_at: now }).where('participant_id', '=', old.participant_id).execute();
      await appendEvent(trx, callId, null, { type: 'left', participantId: old.participant_id }, clock);
    }
    const row = {
      participant_id: randomBytes(16).toString('base64url'),
      call_id: callId,
      role,
      display_name: displayName,
      clinician_id: clinicianId,
      device_id: who.kind === 'clinician' ? who.caller.deviceId : null,
      public_key: callKey.publicKey,
      signature: who.kind === 'clinician' ? (callKey.signature ?? null) : null,
      device_public_key: devicePublicKey,
      sender_index: index,
      joined_at: now,
      left_at: null,
      published_at: null,
    };
    await retireSenderIndex(trx, callId, index);
    await trx.insertInto('consult_participants').values(row).execute();
    const participant = toParticipant(row);
    const joinSeq = await appendEvent(trx, callId, null, { type: 'joined', participant }, clock);
    await recordConsultStep(trx, actor, 'consult-join', { callId, patientId: call.patient_id, encounterId: call.encounter_id, role, participantId: participant.participantId }, clock);
    const others = active.filter((p) => !replaced.includes(p));
    return {
      participant,
      joinSeq,
      roster: [...others.map(toParticipant), participant].sort((a, b) => a.index - b.index),
      feeds: others.filter((p) => p.published_at !== null).map((p) => p.participant_id),
      patientId: call.patient_id,
    };
  });
}

/** The participant as the store knows it now: still in a live call? */
async function activeParticipant(trx: Db, callId: string, participantId: string) {
  return trx.selectFrom('consult_participants').select(['participant_id', 'role', 'clinician_id', 'device_id', 'published_at']).where('participant_id', '=', participantId).where('call_id', '=', callId).where('left_at', 'is', null).executeTakeFirst();
}

/**
 * Appends an event from a joined participant under the call's lock, after
 * checking the sender is still in the live call (else CALL_ENDED or
 * NOT_ALLOWED) and, for a message to one participant, that the recipient is too.
 */
export async function relayFrom(db: Db, callId: string, from: string, recipient: string | null, message: RelayedMessage, clock: Clock, extra?: (trx: Db, call: CallRow) => Promise<void>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const call = await lockCall(trx, callId);
    if (!call || call.ended_at) throw refusal('CALL_ENDED');
    if (!(await activeParticipant(trx, callId, from))) throw refusal('NOT_ALLOWED', 'You are no longer in this call.');
    if (recipient && !(await activeParticipant(trx, callId, recipient))) throw refusal('NOT_ALLOWED', 'That participant is not in this call.');
    const seq = await appendEvent(trx, callId, recipient, message, clock);
    if (extra) await extra(trx, call);
    return seq;
  });
}

/**
 * "Codes match", confirmed by a participant for a round: relayed to everyone
 * with the code it confirmed (each page compares it with its own; the
 * backend cannot check it and never vouches for it) and audited (without the code).
 */
export async function confirmCode(db: Db, callId: string, participantId: string, confirmed: { round: number; code: string }, clock: Clock): Promise<number> {
  return relayFrom(db, callId, participantId, null, { type: 'code-confirmed', participantId, round: confirmed.round, code: confirmed.code }, clock, async (trx, call) => {
    // Once per participant per roster round, with someone to compare with; else rolled back: no relay, no audit entry.
    await checkCodeConfirmation(trx, callId, participantId, confirmed.round);
    const me = await trx.selectFrom('consult_participants').select(['role', 'clinician_id', 'device_id']).where('participant_id', '=', participantId).executeTakeFirstOrThrow();
    const actor = await actorOf(trx, callId, participantId, me);
    await recordConsultStep(trx, actor, 'consult-code-confirmed', { callId, patientId: call.patient_id, encounterId: call.encounter_id, role: me.role as ParticipantRole, participantId }, clock);
  });
}

/** A participant's audit actor: the clinician and device, or for a link guest the clinician who issued the link. */
async function actorOf(trx: Db, callId: string, _participantId: string, me: { clinician_id: string | null; device_id: string | null }): Promise<Caller> {
  if (me.clinician_id && me.device_id) return { clinicianId: me.clinician_id, deviceId: me.device_id, scope: 'full' };
  const host = await trx.selectFrom('consult_calls').select('started_by').where('id', '=', callId).executeTakeFirstOrThrow();
  return { clinicianId: host.started_by, deviceId: LINK_GUEST_DEVICE, scope: 'full' };
}

/** Marks the feed published and tells everyone (`feed`). */
export async function feedPublished(db: Db, callId: string, participantId: string, clock: Clock): Promise<number> {
  return relayFrom(db, callId, participantId, null, { type: 'feed', participantId }, clock, async (trx) => {
    await trx.updateTable('consult_participants').set({ published_at: clock().toISOString() }).where('participant_id', '=', participantId).execute();
  });
}

/** Whether `feed` is a published participant of the live call (a subscription may be made to it). */
export async function isPublishedFeed(db: Db, callId: string, feed: string): Promise<boolean> {
  const row = await db.selectFrom('consult_participants').select('published_at').where('participant_id', '=', feed).where('call_id', '=', callId).where('left_at', 'is', null).executeTakeFirst();
  return Boolean(row?.published_at);
}

/** The participant leaves (socket closed or `leave`): `left` for everyone; nothing when it had already left or the call ended. */
export async function leaveCall(db: Db, callId: string, participantId: string, clock: Clock): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const call = await lockCall(trx, callId);
    if (!call || call.ended_at) return;
    const r = await trx.updateTable('consult_participants').set({ left_at: clock().toISOString() }).where('participant_id', '=', participantId).where('left_at', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) await appendEvent(trx, callId, null, { type: 'left', participantId }, clock);
  });
}

/**
 * Ends a stale call (../call-limits isStale: idle or too old) as `expired`:
 * everyone still in it leaves, and gets `ended`. True if the call is (now) ended.
 */
export async function expireIfStale(db: Db, callId: string, clock: Clock): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const call = await lockCall(trx, callId);
    if (!call) return false;
    if (call.ended_at) return true;
    const now = clock();
    if (!(await isStale(trx, callId, now))) return false;
    await trx.updateTable('consult_participants').set({ left_at: now.toISOString() }).where('call_id', '=', callId).where('left_at', 'is', null).execute();
    await trx.updateTable('consult_calls').set({ ended_at: now.toISOString() }).where('id', '=', callId).execute();
    await appendEvent(trx, callId, null, { type: 'ended', reason: 'expired' }, clock);
    return true;
  });
}

/**
 * A participant who may no longer take part (../call-limits mayStillTakePart)
 * is removed: `ended` {reason 'removed'} for that participant alone, then
 * `left` for everyone. Nothing when it had already left or the call ended.
 */
export async function removeParticipant(db: Db, callId: string, participantId: string, clock: Clock): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const call = await lockCall(trx, callId);
    if (!call || call.ended_at) return;
    const r = await trx.updateTable('consult_participants').set({ left_at: clock().toISOString() }).where('participant_id', '=', participantId).where('left_at', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return;
    await appendEvent(trx, callId, participantId, { type: 'ended', reason: 'removed' }, clock);
    await appendEvent(trx, callId, null, { type: 'left', participantId }, clock);
  });
}

/** The host ends the call for everyone (`ended`), audited; NOT_ALLOWED for anyone else. */
export async function endCall(db: Db, callId: string, participantId: string, clock: Clock): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const call = await lockCall(trx, callId);
    if (!call || call.ended_at) throw refusal('CALL_ENDED');
    const me = await activeParticipant(trx, callId, participantId);
    if (!me || me.role !== 'host') throw refusal('NOT_ALLOWED', 'Only the clinician who started the call can end it for everyone.');
    const now = clock().toISOString();
    await trx.updateTable('consult_participants').set({ left_at: now }).where('call_id', '=', callId).where('left_at', 'is', null).execute();
    await trx.updateTable('consult_calls').set({ ended_at: now }).where('id', '=', callId).execute();
    await appendEvent(trx, callId, null, { type: 'ended', reason: 'host-ended' }, clock);
    const actor = await actorOf(trx, callId, participantId, me);
    await recordConsultStep(trx, actor, 'consult-end', { callId, patientId: call.patient_id, encounterId: call.encounter_id, role: 'host', participantId }, clock);
  });
}

/** The call's events after `after`, in seq order (at most `limit`). */
export async function eventsAfter(db: Db, callId: string, after: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db.selectFrom('consult_events').select(['seq', 'recipient', 'payload']).where('call_id', '=', callId).where('seq', '>', after).orderBy('seq').limit(limit).execute();
  return rows.map((r) => ({ seq: Number(r.seq), recipient: r.recipient, payload: r.payload }));
}

/** The enrolled, unrevoked device key (SPKI DER, base64url) of the session's device. */
export async function deviceKeyOf(db: Db, caller: Caller): Promise<string | null> {
  const row = await db.selectFrom('devices').select('public_key').where('id', '=', caller.deviceId).where('clinician_id', '=', caller.clinicianId).where('revoked_at', 'is', null).executeTakeFirst();
  return row?.public_key ?? null;
}
