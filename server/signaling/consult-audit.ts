/**
 * The backend's own audit of a consultation: the start, each join, each
 * "codes match" confirmation and the end become entries of the backend's
 * disclosure chain (../audit/disclosure-ledger.ts), in the same transaction
 * as the step itself. Each names the call's patient, and as entities the
 * Encounter, the call (consultCallEntity) and the participant's role and id.
 * A link guest has no account: its join is recorded with the clinician who
 * issued the link as actor and the fixed device `consult-link`. Never put
 * the token, a key, the spoken code or a display name into an entry.
 */
import { consultCallEntity } from '../../shared/audit-entry';
import type { ParticipantRole } from '../../shared/consult/signaling-messages';
import type { Caller } from '../auth/caller';
import { recordDisclosures } from '../audit/disclosure-ledger';
import type { Clock } from '../clock';
import type { Db } from '../database';

export type ConsultStep = 'consult-start' | 'consult-join' | 'consult-code-confirmed' | 'consult-end';

/** The device named in the entries of a link guest, who has none. */
export const LINK_GUEST_DEVICE = 'consult-link';

export const consultRoleEntity = (role: ParticipantRole) => `urn:clinician-desktop:consult-role:${role}`;
export const consultParticipantEntity = (participantId: string) => `urn:clinician-desktop:consult-participant:${participantId}`;

export interface ConsultAuditFacts {
  callId: string;
  patientId: string;
  encounterId: string;
  role: ParticipantRole;
  participantId: string | null;
}

/** Appends one entry for `step`; call inside the step's transaction. */
export async function recordConsultStep(trx: Db, actor: Caller, step: ConsultStep, facts: ConsultAuditFacts, clock: Clock): Promise<void> {
  const entities = [`Encounter/${facts.encounterId}`, consultCallEntity(facts.callId), consultRoleEntity(facts.role)];
  if (facts.participantId) entities.push(consultParticipantEntity(facts.participantId));
  await recordDisclosures(trx, actor, [{ action: 'E', subtype: step, patientId: facts.patientId, entities, outcome: '0', query: null }], clock);
}
