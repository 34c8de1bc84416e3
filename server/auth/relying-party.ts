/**
 * The WebAuthn relying party (@simplewebauthn/server): registration with a
 * one-time enrollment code, authentication, single-use expiring challenges,
 * user verification required, signature counters checked, several passkeys
 * per clinician, revoked credentials and devices refused. A challenge is
 * burned by the first attempt that names it, so a replay always fails.
 * Never accept an assertion without a live challenge issued for that
 * clinician, and never store or see a PRF output.
 */
import { randomBytes, createHash, createPublicKey, verify } from 'node:crypto';
import { deviceSessionMessage } from '../../shared/backend-api';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import type { AuthenticationResponse, CredentialRecord, RegistrationResponse } from '../../shared/backend-api';
import { prfExtensionJson } from '../../shared/passkey-prf';
import { badRequest, forbidden, unauthorized } from '../api-error';
import { plusMinutes, type Clock } from '../clock';
import type { Db } from '../database';
import { hashSecret } from '../organisation/organisation';
import type { Caller, SessionScope } from './caller';

export interface RelyingPartyConfig {
  rpId: string;
  rpName: string;
  /** Origins the renderer runs at (the app's secure origin; localhost in tests). */
  origins: string[];
}

export const CHALLENGE_MINUTES = 5;
export const SESSION_HOURS = 12;

const codeInvalid = () => badRequest('ENROLLMENT_CODE_INVALID', 'The enrollment code is not valid: it may be mistyped, used or expired. Ask IT for a new one.');
const challengeInvalid = () => badRequest('CHALLENGE_INVALID', 'The sign-in request expired or was already used. Try again.');

function challengeOf(clientDataJSON: string): string {
  try {
    const data = JSON.parse(isoBase64URL.toUTF8String(clientDataJSON)) as { challenge?: unknown };
    if (typeof data.challenge === 'string' && /^[A-Za-z0-9_-]{16,256}$/.test(data.challenge)) return data.challenge;
  } catch {
    // fall through
  }
  throw badRequest('RESPONSE_INVALID', 'The passkey response is malformed.');
}

/** Burns the challenge if it is live and was issued for this purpose and clinician. */
async function consumeChallenge(db: Db, challenge: string, purpose: string, clinicianId: string, clock: Clock): Promise<void> {
  const now = clock().toISOString();
  const r = await db
    .updateTable('challenges')
    .set({ used_at: now })
    .where('challenge', '=', challenge)
    .where('purpose', '=', purpose)
    .where('clinician_id', '=', clinicianId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw challengeInvalid();
}

async function storeChallenge(db: Db, challenge: string, purpose: string, clinicianId: string, clock: Clock): Promise<void> {
  const now = clock();
  await db
    .insertInto('challenges')
    .values({ challenge, purpose, clinician_id: clinicianId, created_at: now.toISOString(), expires_at: plusMinutes(now, CHALLENGE_MINUTES), used_at: null })
    .execute();
}

async function liveCode(db: Db, clinicianId: string, code: string, clock: Clock): Promise<string> {
  const codeHash = hashSecret(code);
  const row = await db
    .selectFrom('enrollment_codes')
    .select(['code_hash'])
    .where('code_hash', '=', codeHash)
    .where('clinician_id', '=', clinicianId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', clock().toISOString())
    .executeTakeFirst();
  if (!row) throw codeInvalid();
  return codeHash;
}

async function activeClinician(db: Db, clinicianId: string) {
  const c = await db.selectFrom('clinicians').selectAll().where('id', '=', clinicianId).executeTakeFirst();
  if (!c) throw unauthorized('CLINICIAN_UNKNOWN', 'This clinician is not known to the organisation.');
  if (c.revoked_at) throw forbidden('CLINICIAN_REVOKED', 'This clinician\'s access has been revoked.');
  return c;
}

function toRecord(row: { id: string; public_key: string; counter: number | string; prf: number }): CredentialRecord {
  return { id: row.id, publicKey: row.public_key, counter: Number(row.counter), prf: Number(row.prf) === 1 };
}


async function newSession(db: Db, clinicianId: string, deviceId: string, clock: Clock, scope: SessionScope = 'full'): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const now = clock();
  await db
    .insertInto('sessions')
    .values({ token_hash: hashSecret(token), clinician_id: clinicianId, device_id: deviceId, created_at: now.toISOString(), expires_at: plusMinutes(now, SESSION_HOURS * 60), scope })
    .execute();
  return token;
}

export class RelyingParty {
  constructor(
    private readonly db: Db,
    private readonly config: RelyingPartyConfig,
    private readonly clock: Clock,
  ) {}

  async registrationOptions(clinicianId: string, code: string) {
    const clinician = await activeClinician(this.db, clinicianId);
    await liveCode(this.db, clinicianId, code, this.clock);
    const existing = await this.db.selectFrom('credentials').select(['id']).where('clinician_id', '=', clinicianId).where('revoked_at', 'is', null).execute();
    const options = await generateRegistrationOptions({
      rpName: this.config.rpName,
      rpID: this.config.rpId,
      userName: clinicianId,
      userID: createHash('sha256').update(`clinician:${clinicianId}`).digest(),
      userDisplayName: clinician.display_name,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required', authenticatorAttachment: 'platform' },
      extensions: prfExtensionJson() as never,
    });
    await storeChallenge(this.db, options.challenge, 'register', clinicianId, this.clock);
    return options;
  }

  async registrationVerify(input: {
    clinicianId: string;
    code: string;
    response: RegistrationResponse;
    device: { id: string; publicKey: string };
  }) {
    const clinician = await activeClinician(this.db, input.clinicianId);
    const codeHash = await liveCode(this.db, input.clinicianId, input.code, this.clock);
    const challenge = challengeOf(input.response.response.clientDataJSON);
    await consumeChallenge(this.db, challenge, 'register', input.clinicianId, this.clock);
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: input.response as unknown as RegistrationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: this.config.origins,
        expectedRPID: this.config.rpId,
        requireUserVerification: true,
      });
    } catch {
      throw badRequest('REGISTRATION_INVALID', 'The passkey could not be verified (wrong site, or a damaged response).');
    }
    if (!verification.verified) throw badRequest('REGISTRATION_INVALID', 'The passkey could not be verified.');
    const { credential } = verification.registrationInfo;
    const prf = (input.response.clientExtensionResults as { prf?: { enabled?: unknown } }).prf?.enabled === true;
    const now = this.clock().toISOString();
    const token = await this.db.transaction().execute(async (trx) => {
      const used = await trx.updateTable('enrollment_codes').set({ used_at: now }).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) throw codeInvalid();
      const device = await trx.selectFrom('devices').selectAll().where('id', '=', input.device.id).executeTakeFirst();
      if (device && (device.clinician_id !== input.clinicianId || device.public_key !== input.device.publicKey)) {
        throw forbidden('DEVICE_CONFLICT', 'This device is registered to someone else.');
      }
      if (device?.revoked_at) throw forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
      if (!device) {
        await trx
          .insertInto('devices')
          .values({ id: input.device.id, clinician_id: input.clinicianId, public_key: input.device.publicKey, created_at: now, last_seen_at: now, revoked_at: null })
          .execute();
      }
      await trx
        .insertInto('credentials')
        .values({
          id: credential.id,
          clinician_id: input.clinicianId,
          public_key: isoBase64URL.fromBuffer(credential.publicKey),
          counter: credential.counter,
          transports: JSON.stringify(credential.transports ?? []),
          prf: prf ? 1 : 0,
          created_at: now,
          last_used_at: now,
          revoked_at: null,
        })
        .execute();
      return newSession(trx, input.clinicianId, input.device.id, this.clock);
    });
    return {
      token,
      clinician: { id: clinician.id, displayName: clinician.display_name },
      credential: { id: credential.id, publicKey: isoBase64URL.fromBuffer(credential.publicKey), counter: credential.counter, prf },
    };
  }

  async authenticationOptions(clinicianId: string) {
    await activeClinician(this.db, clinicianId);
    const creds = await this.db.selectFrom('credentials').select(['id', 'transports']).where('clinician_id', '=', clinicianId).where('revoked_at', 'is', null).execute();
    if (creds.length === 0) throw unauthorized('NO_PASSKEY', 'This clinician has no active passkey. Ask IT for an enrollment code.');
    const options = await generateAuthenticationOptions({
      rpID: this.config.rpId,
      allowCredentials: creds.map((c) => ({ id: c.id, transports: JSON.parse(c.transports) as string[] })),
      userVerification: 'required',
      extensions: prfExtensionJson() as never,
    });
    await storeChallenge(this.db, options.challenge, 'authenticate', clinicianId, this.clock);
    return options;
  }

  async authenticationVerify(input: { clinicianId: string; deviceId: string; response: AuthenticationResponse }) {
    const clinician = await activeClinician(this.db, input.clinicianId);
    const challenge = challengeOf(input.response.response.clientDataJSON);
    await consumeChallenge(this.db, challenge, 'authenticate', input.clinicianId, this.clock);
    const row = await this.db
      .selectFrom('credentials')
      .selectAll()
      .where('id', '=', input.response.id)
      .where('clinician_id', '=', input.clinicianId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw unauthorized('CREDENTIAL_UNKNOWN', 'This passkey is not registered (or was revoked).');
    const device = await this.db.selectFrom('devices').selectAll().where('id', '=', input.deviceId).executeTakeFirst();
    if (!device || device.clinician_id !== input.clinicianId) throw forbidden('DEVICE_UNKNOWN', 'This device is not enrolled for this clinician.');
    if (device.revoked_at) throw forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response: input.response as unknown as AuthenticationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: this.config.origins,
        expectedRPID: this.config.rpId,
        credential: { id: row.id, publicKey: isoBase64URL.toBuffer(row.public_key), counter: Number(row.counter) },
        requireUserVerification: true,
      });
    } catch (err) {
      if (err instanceof Error && /counter/i.test(err.message)) {
        throw unauthorized('COUNTER_REPLAY', 'This passkey\'s signature counter went backwards: the sign-in was refused.');
      }
      throw unauthorized('ASSERTION_INVALID', 'The passkey sign-in could not be verified.');
    }
    if (!verification.verified) throw unauthorized('ASSERTION_INVALID', 'The passkey sign-in could not be verified.');
    const now = this.clock().toISOString();
    await this.db.updateTable('credentials').set({ counter: verification.authenticationInfo.newCounter, last_used_at: now }).where('id', '=', row.id).execute();
    await this.db.updateTable('devices').set({ last_seen_at: now }).where('id', '=', device.id).execute();
    const token = await newSession(this.db, input.clinicianId, device.id, this.clock);
    const credentials = await this.db.selectFrom('credentials').selectAll().where('clinician_id', '=', input.clinicianId).where('revoked_at', 'is', null).execute();
    return { token, clinician: { id: clinician.id, displayName: clinician.display_name }, credentials: credentials.map(toRecord) };
  }

  /** The session behind a bearer token; refuses expired sessions and revoked devices or clinicians. */
  /** The device's active, unrevoked record and its clinician, or a refusal that changes nothing. */
  private async activeDevice(deviceId: string) {
    const device = await this.db.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
    if (!device) throw unauthorized('DEVICE_UNKNOWN', 'This device is not enrolled.');
    if (device.revoked_at) throw forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
    await activeClinician(this.db, device.clinician_id);
    return device;
  }

  /** A single-use challenge for the device key. */
  async deviceOptions(deviceId: string): Promise<{ challenge: string }> {
    const device = await this.activeDevice(deviceId);
    const challenge = randomBytes(32).toString('base64url');
    await storeChallenge(this.db, challenge, `device:${deviceId}`, device.clinician_id, this.clock);
    return { challenge };
  }

  /**
   * A sync-only session for a device that signed its challenge with the key
   * registered at enrollment: it may push changes and upload its audit
   * chain, nothing else (no patient data comes back without a passkey).
   */
  async deviceVerify(input: { deviceId: string; challenge: string; signature: string }): Promise<{ token: string }> {
    const device = await this.activeDevice(input.deviceId);
    const publicKey = createPublicKey({ key: Buffer.from(device.public_key, 'base64url'), format: 'der', type: 'spki' });
    const signed = verify(null, Buffer.from(deviceSessionMessage(input.deviceId, input.challenge)), publicKey, Buffer.from(input.signature, 'base64'));
    if (!signed) throw unauthorized('DEVICE_SIGNATURE_INVALID', 'The device could not prove its identity.');
    await consumeChallenge(this.db, input.challenge, `device:${input.deviceId}`, device.clinician_id, this.clock);
    return { token: await newSession(this.db, device.clinician_id, input.deviceId, this.clock, 'sync') };
  }

  /** The session behind a token; `need` 'sync' admits sync-only sessions, 'full' (the default) does not. */
  async session(token: string | undefined, need: SessionScope = 'full'): Promise<Caller> {
    if (!token) throw unauthorized('SESSION_INVALID', 'Sign in again.');
    const s = await this.db.selectFrom('sessions').selectAll().where('token_hash', '=', hashSecret(token)).executeTakeFirst();
    if (!s || s.expires_at <= this.clock().toISOString()) throw unauthorized('SESSION_INVALID', 'Sign in again.');
    const clinician = await this.db.selectFrom('clinicians').select(['revoked_at']).where('id', '=', s.clinician_id).executeTakeFirst();
    if (!clinician || clinician.revoked_at) throw forbidden('CLINICIAN_REVOKED', 'This clinician\'s access has been revoked.');
    const device = await this.db.selectFrom('devices').select(['revoked_at']).where('id', '=', s.device_id).executeTakeFirst();
    if (!device || device.revoked_at) throw forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
    if (s.scope !== 'full' && need === 'full') throw forbidden('SCOPE_INSUFFICIENT', 'Sign in with your passkey for this.');
    return { clinicianId: s.clinician_id, deviceId: s.device_id, scope: s.scope === 'sync' ? 'sync' : 'full' };
  }
}

