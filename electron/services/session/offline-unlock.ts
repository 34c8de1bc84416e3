/**
 * Offline unlock: with the backend unreachable, main makes a local
 * single-use challenge and checks the passkey assertion against the
 * credential public key the keychain remembers, for at most the policy's
 * `offlineDays` since the last online sign-in, counted up to the latest time
 * the device has seen (latest-time-seen.ts), so a clock set back does not
 * extend it. What is checked here comes from the keychain unconfirmed; the
 * finish checks the device key's signature over the whole record before the
 * unlock counts. Never accept an assertion
 * for another challenge, origin or rpId, or without user verification.
 */
import { randomBytes } from 'node:crypto';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { AppError } from '../../../shared/app-error';
import type { AuthenticationResponse } from '../../../shared/backend-api';
import { prfExtensionJson } from '../../../shared/passkey-prf';
import type { PasskeyRecord } from './passkey-record';
import { offlineTooLong, offlineUnconfirmed, pastOfflineLimit } from './latest-time-seen';

const OFFLINE_CHALLENGE_MS = 2 * 60_000;

export interface OfflineChallenge {
  challenge: string;
  expires: number;
}

/**
 * Request options for a local ceremony, or OFFLINE_TOO_LONG when what is
 * already recorded is past the policy's days (or carries no signature).
 * `recordedLatest` is the latest time seen without this reading of the
 * clock: a clock reading that alone passes the limit is first recorded (the
 * finish signs it, then refuses), so setting the clock back afterwards
 * cannot undo it.
 */
export function offlineOptions(record: PasskeyRecord, rpId: string, now: number, recordedLatest: number) {
  if (record.recordSignature === undefined || record.latestSeenAt === undefined) throw offlineUnconfirmed();
  if (pastOfflineLimit(record, recordedLatest, record.policy.offlineDays)) throw offlineTooLong(record.policy.offlineDays);
  const challenge = randomBytes(32).toString('base64url');
  return {
    challenge: { challenge, expires: now + OFFLINE_CHALLENGE_MS } satisfies OfflineChallenge,
    options: {
      challenge,
      rpId,
      allowCredentials: record.credentials.map((c) => ({ id: c.id, type: 'public-key' as const })),
      userVerification: 'required',
      timeout: 60_000,
      extensions: prfExtensionJson(),
    },
  };
}

/** Checks the assertion locally; on success the credential's counter in `record` moves on. */
export async function verifyOffline(
  record: PasskeyRecord,
  pending: OfflineChallenge,
  response: AuthenticationResponse,
  where: { rpId: string; origins: string[] },
  now: number,
): Promise<void> {
  if (now > pending.expires) throw new AppError('SIGN_IN_REFUSED', 'The sign-in request expired. Try again.');
  const credential = record.credentials.find((c) => c.id === response.id);
  if (!credential) throw new AppError('SIGN_IN_REFUSED', 'This passkey is not registered on this computer.');
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response: response as unknown as AuthenticationResponseJSON,
      expectedChallenge: pending.challenge,
      expectedOrigin: where.origins,
      expectedRPID: where.rpId,
      credential: { id: credential.id, publicKey: isoBase64URL.toBuffer(credential.publicKey), counter: credential.counter },
      requireUserVerification: true,
    });
  } catch {
    throw new AppError('SIGN_IN_REFUSED', 'The passkey sign-in could not be verified.');
  }
  if (!verified.verified) throw new AppError('SIGN_IN_REFUSED', 'The passkey sign-in could not be verified.');
  credential.counter = verified.authenticationInfo.newCounter;
}
