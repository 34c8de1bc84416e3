/**
 * Online sign-in: the backend, as relying party, verifies the passkey
 * assertion and answers with a passkey session, the clinician's current
 * credentials and the organisation's policy. Only the checked answer comes
 * back; the PRF output never leaves main.
 */
import type { AuthenticationResponse } from '../../../shared/backend-api';
import type { BackendClient } from '../backend-client';
import type { PasskeyRecord } from './passkey-record';
import { withoutPrfOutput } from './passkey-record';

export async function requestOnlineOptions(backend: BackendClient, clinicianId: string) {
  const { options } = await backend.authOptions({ clinicianId });
  return options;
}

/** Verifies at the backend; returns the session token and the record as the backend now knows it. */
export async function verifyOnline(
  backend: BackendClient,
  record: PasskeyRecord,
  deviceId: string,
  response: AuthenticationResponse,
  now: number,
): Promise<{ token: string; record: PasskeyRecord }> {
  const reply = await backend.authVerify({ clinicianId: record.clinicianId, deviceId, response: withoutPrfOutput(response) });
  return { token: reply.token, record: { ...record, credentials: reply.credentials, policy: reply.policy, lastOnlineAt: now } };
}
