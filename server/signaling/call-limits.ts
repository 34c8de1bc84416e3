/**
 * The limits a consultation keeps against abuse by its own participants,
 * checked inside the call-store transactions that hold the call's lock:
 * sender indexes are reused (a newcomer takes the lowest index no ACTIVE
 * participant holds, so reconnecting never fills the call; receivers key by
 * KID = epoch and index, and a reused index belongs to a new participant whose
 * key replaces the departed one's); a clinician may (re)join one call at most
 * REJOINS_PER_MINUTE times a minute; "codes match" counts once per participant
 * per roster round (the seq of the latest `joined`/`left`) and only with
 * someone to compare with; a call idle CALL_IDLE_MS or older than
 * CALL_MAX_AGE_MS is stale (ended as expired by the store); a participant
 * stays only while the access policy still lets them (or, for a link guest,
 * the clinician who issued the link) read the patient.
 * Never put an id, a token or a code into an error message.
 */
import { mayAccessPatient } from '../authorization/access-policy';
import type { Db } from '../database';
import { MAX_SENDER_INDEX } from '../../shared/consult/media-kid';
import { refusal } from './signaling-refusal';

export const REJOINS_PER_MINUTE = 10;
/** A call nobody has been in (and nobody was invited to) for this long is over. */
export const CALL_IDLE_MS = 30 * 60_000;
/** No call lasts longer than this. */
export const CALL_MAX_AGE_MS = 12 * 3600_000;

/**
 * The lowest sender index no active participant (other than those about to be
 * replaced) holds. CALL_FULL only if all 256 are held by active participants,
 * which CONSULT_MAX_PARTICIPANTS prevents long before.
 */
export function lowestFreeIndex(activeIndexes: readonly number[]): number {
  const held = new Set(activeIndexes);
  let index = 0;
  while (held.has(index)) index++;
  if (index > MAX_SENDER_INDEX) throw refusal('CALL_FULL');
  return index;
}

/**
 * Frees `index` for a newcomer: the departed participant's row that still
 * holds it (the index is unique per call) gets a retired, negative index,
 * unique because it is made from the call's current seq.
 */
export async function retireSenderIndex(trx: Db, callId: string, index: number): Promise<void> {
  const { room_seq } = await trx.selectFrom('consult_calls').select('room_seq').where('id', '=', callId).executeTakeFirstOrThrow();
  await trx
    .updateTable('consult_participants')
    .set({ sender_index: -1 - Number(room_seq) })
    .where('call_id', '=', callId)
    .where('sender_index', '=', index)
    .where('left_at', 'is not', null)
    .execute();
}

/** RATE_LIMITED when this clinician joined this call REJOINS_PER_MINUTE times in the last minute. */
export async function checkRejoinRate(trx: Db, callId: string, clinicianId: string, now: Date): Promise<void> {
  const since = new Date(now.getTime() - 60_000).toISOString();
  const { n } = await trx
    .selectFrom('consult_participants')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('call_id', '=', callId)
    .where('clinician_id', '=', clinicianId)
    .where('joined_at', '>', since)
    .executeTakeFirstOrThrow();
  if (Number(n) >= REJOINS_PER_MINUTE) throw refusal('RATE_LIMITED', 'Too many reconnections to this call; wait a minute and try again.');
}

/** The call's roster round: the seq of its latest `joined` or `left` event (0 before any). */
export async function currentRound(trx: Db, callId: string): Promise<number> {
  const { top } = await trx
    .selectFrom('consult_events')
    .select((eb) => eb.fn.max('seq').as('top'))
    .where('call_id', '=', callId)
    .where('recipient', 'is', null)
    .where((eb) => eb.or([eb('payload', 'like', '{"type":"joined"%'), eb('payload', 'like', '{"type":"left"%')]))
    .executeTakeFirstOrThrow();
  return top === null ? 0 : Number(top);
}

/**
 * Checked after the confirmation was appended (in the same transaction, so a
 * refusal rolls it back with no relay and no audit entry): INVALID_MESSAGE
 * when fewer than two are in the call, when `round` (the page's, when it
 * sends one) is not the current round, or when this participant already
 * confirmed in this round.
 */
export async function checkCodeConfirmation(trx: Db, callId: string, participantId: string, round?: number): Promise<void> {
  const { n } = await trx
    .selectFrom('consult_participants')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('call_id', '=', callId)
    .where('left_at', 'is', null)
    .executeTakeFirstOrThrow();
  if (Number(n) < 2) throw refusal('INVALID_MESSAGE');
  const current = await currentRound(trx, callId);
  if (round !== undefined && round !== current) throw refusal('INVALID_MESSAGE');
  const since = await trx
    .selectFrom('consult_events')
    .select('payload')
    .where('call_id', '=', callId)
    .where('seq', '>', current)
    .where('recipient', 'is', null)
    .where('payload', 'like', '{"type":"code-confirmed"%')
    .execute();
  const mine = since.filter((e) => (JSON.parse(e.payload) as { participantId?: string }).participantId === participantId).length;
  if (mine > 1) throw refusal('INVALID_MESSAGE');
}

/** Whether the call is over its age or has been idle (nobody in it, nobody newly invited) too long. */
export async function isStale(trx: Db, callId: string, now: Date): Promise<boolean> {
  const call = await trx.selectFrom('consult_calls').select('started_at').where('id', '=', callId).executeTakeFirstOrThrow();
  const t = now.getTime();
  if (t - Date.parse(call.started_at) > CALL_MAX_AGE_MS) return true;
  const active = await trx.selectFrom('consult_participants').select('participant_id').where('call_id', '=', callId).where('left_at', 'is', null).executeTakeFirst();
  if (active) return false;
  const people = await trx.selectFrom('consult_participants').select((eb) => eb.fn.max('left_at').as('lastLeft')).where('call_id', '=', callId).executeTakeFirstOrThrow();
  const { lastInvited } = await trx.selectFrom('consult_invitations').select((eb) => eb.fn.max('created_at').as('lastInvited')).where('call_id', '=', callId).executeTakeFirstOrThrow();
  const idleSince = Math.max(Date.parse(call.started_at), people.lastLeft ? Date.parse(people.lastLeft) : 0, lastInvited ? Date.parse(lastInvited) : 0);
  return t - idleSince > CALL_IDLE_MS;
}

/**
 * Whether a participant may still be in the call: a clinician may still read
 * the patient; a link guest's issuing clinician may still read the patient.
 */
export async function mayStillTakePart(db: Db, callId: string, who: { clinicianId: string } | { tokenHash: string }): Promise<boolean> {
  const call = await db.selectFrom('consult_calls').select('patient_id').where('id', '=', callId).executeTakeFirst();
  if (!call) return false;
  let clinicianId: string;
  if ('clinicianId' in who) clinicianId = who.clinicianId;
  else {
    const link = await db.selectFrom('consult_invitations').select('created_by').where('token_hash', '=', who.tokenHash).where('call_id', '=', callId).executeTakeFirst();
    if (!link) return false;
    clinicianId = link.created_by;
  }
  return mayAccessPatient(db, { clinicianId, deviceId: '-', scope: 'full' }, 'read', call.patient_id);
}
