/**
 * The backend's HTTP surface for consultations (besides the signaling
 * WebSocket): starting a call bound to an Encounter of a patient, inviting
 * people to it, and listing the calls a clinician was invited to. Shared by
 * the backend (server/signaling) and main's backend client. Never put a media
 * key here: the backend never holds one.
 */
import { z } from 'zod';
import { fhirIdSchema } from '../fhir-id';
import { callIdSchema, inviteeSchema } from './signaling-messages';

export const CONSULT_CALLS_PATH = '/consult/calls';
export const consultInvitationsPath = (callId: string) => `/consult/calls/${encodeURIComponent(callId)}/invitations`;
export const CONSULT_INVITED_PATH = '/consult/invited';

/** A one-time join link is valid this long by default (policy may shorten it). */
export const INVITE_TTL_SECONDS_DEFAULT = 15 * 60;

export const startCallRequestSchema = z.strictObject({ patientId: fhirIdSchema, encounterId: fhirIdSchema });
export const startCallResponseSchema = z.object({ callId: callIdSchema });

export const inviteRequestSchema = z.strictObject({ invitee: inviteeSchema });
export const inviteResponseSchema = z.object({
  /** The one-time join link for a patient, interpreter or family member (token in the fragment); null for a clinician, who joins from the app. */
  link: z.string().max(600).nullable(),
  expiresAt: z.iso.datetime(),
});

export const invitedCallSchema = z.object({
  callId: callIdSchema,
  patientId: fhirIdSchema,
  encounterId: fhirIdSchema,
  /** Display name of the clinician who started the call. */
  startedBy: z.string().max(200),
  startedAt: z.iso.datetime(),
});
export const invitedCallsResponseSchema = z.object({ calls: z.array(invitedCallSchema).max(50) });
export type InvitedCall = z.infer<typeof invitedCallSchema>;
