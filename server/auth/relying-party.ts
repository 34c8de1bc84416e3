/**
 * The WebAuthn relying party (@simplewebauthn/server): registration with a
 * one-time enrollment code, authentication, single-use expiring challenges,
 * user verification required, signature counters checked, several passkeys
 * per clinician, revoked credentials and devices refused; and the session
 * check of every authenticated request. A challenge is burned by the first
 * attempt that names it, so a replay always fails. Before a proof (a valid
 * assertion or device signature) is verified, an unknown, revoked or wrong
 * clinician, device or code gets the same answer as a known one, and an
 * unauthenticated caller stores nothing for an unknown one (decoy sign-in
 * options are derived from a server secret, so they look stable, and the
 * decoy challenge is checked statelessly; only its use is stored, in the
 * database every instance shares, until it expires, so an unknown
 * clinician's sign-in and its replay fail exactly as a known one's with an
 * unknown passkey, at whichever instance answers). What
 * remains is timing: a known clinician's options store a challenge row.
 * Never accept an assertion without a live challenge issued for that
 * clinician, and never store or see a PRF output.
 */
import { randomBytes, createHash, createHmac, createPublicKey, generateKeyPairSync, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
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
import { ApiError, badRequest, forbidden, unauthorized } from '../api-error';
import { plusMinutes, type Clock } from '../clock';
import type { Db } from '../database';
import { hashSecret, readPolicy } from '../organisation/organisation';
import { securityEvent } from '../monitoring/security-log';
import type { Caller, SessionScope } from './caller';
import { PURGE_BATCH, SESSION_HOURS, createSession, deleteSession, findSession, purgeSessions, tokenHash, touchSession } from './session-store';

export interface RelyingPartyConfig {
  rpId: string;
  rpName: string;
  /** Origins the renderer runs at (the app's secure origin; localhost in tests). */
  origins: string[];
}

export const CHALLENGE_MINUTES = 5;
export { SESSION_HOURS };

/** Length of a decoy credential id, as platform authenticators make them. */
const DECOY_ID_BYTES = 32;
/** A decoy's transports until credentials are stored: what a platform passkey enrolled in Chromium reports. */
const DECOY_TRANSPORTS = ['internal'];
/** How long the commonest stored transports (a decoy's) are kept before being read again. */
const DECOY_TRANSPORTS_MS = 10 * 60_000;
/** A decoy challenge: nonce (16 bytes) || masked expiry (4) || tag (12): 32 bytes, like a real one. */
const DECOY_NONCE_BYTES = 16;
const DECOY_TAG_BYTES = 12;

/** A passkey without PRF while the organisation requires it (the cache key could not be bound to it). */
const prfRequired = () => forbidden('PRF_REQUIRED', 'Your organisation requires a passkey that can protect the patient cache (PRF).');
const codeInvalid = () => badRequest('ENROLLMENT_CODE_INVALID', 'The enrollment code is not valid: it may be mistyped, used or expired. Ask IT for a new one.');
const challengeInvalid = () => badRequest('CHALLENGE_INVALID', 'The sign-in request expired or was already used. Try again.');
const sessionInvalid = () => unauthorized('SESSION_INVALID', 'Sign in again.');
const deviceRevoked = () => forbidden('DEVICE_REVOKED', 'This device has been revoked by IT.');
const clinicianRevoked = () => forbidden('CLINICIAN_REVOKED', 'This clinician\'s access has been revoked.');
const credentialUnknown = () => unauthorized('CREDENTIAL_UNKNOWN', 'This passkey is not registered (or was revoked).');
const signatureInvalid = () => unauthorized('DEVICE_SIGNATURE_INVALID', 'The device could not prove its identity.');

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
  const r = await db
    .deleteFrom('challenges')
    .where('challenge', '=', challenge)
    .where('purpose', '=', purpose)
    .where('clinician_id', '=', clinicianId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', clock().toISOString())
    .executeTakeFirst();
  if (Number(r.numDeletedRows) !== 1) throw challengeInvalid();
}

/** Deletes a bounded batch of expired challenges, so their table cannot grow without end. */
async function purgeChallenges(db: Db, now: string, limit: number): Promise<number> {
  const expired = db.selectFrom('challenges').select('challenge').where('expires_at', '<=', now).limit(limit);
  return Number((await db.deleteFrom('challenges').where('challenge', 'in', expired).executeTakeFirst()).numDeletedRows);
}

/** Likewise for used decoy challenges (an expired one fails on its own expiry, so it need not be remembered). */
async function purgeUsedDecoyChallenges(db: Db, now: string, limit: number): Promise<number> {
  const expired = db.selectFrom('used_decoy_challenges').select('challenge').where('expires_at', '<=', now).limit(limit);
  return Number((await db.deleteFrom('used_decoy_challenges').where('challenge', 'in', expired).executeTakeFirst()).numDeletedRows);
}

async function storeChallenge(db: Db, challenge: string, purpose: string, clinicianId: string, clock: Clock): Promise<void> {
  const now = clock();
  await purgeChallenges(db, now.toISOString(), PURGE_BATCH);
  await db
    .insertInto('challenges')
    .values({ challenge, purpose, clinician_id: clinicianId, created_at: now.toISOString(), expires_at: plusMinutes(now, CHALLENGE_MINUTES), used_at: null })
    .execute();
}

/** The live code's hash and its clinician, who must be active; one answer for every way it can be wrong. */
async function liveCode(db: Db, clinicianId: string, code: string, clock: Clock): Promise<{ codeHash: string; clinician: { id: string; display_name: string } }> {
  const codeHash = hashSecret(code);
  const row = await db
    .selectFrom('enrollment_codes as e')
    .innerJoin('clinicians as c', 'c.id', 'e.clinician_id')
    .select(['e.code_hash', 'c.id', 'c.display_name'])
    .where('e.code_hash', '=', codeHash)
    .where('e.clinician_id', '=', clinicianId)
    .where('e.used_at', 'is', null)
    .where('e.expires_at', '>', clock().toISOString())
    .where('c.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) throw codeInvalid();
  return { codeHash, clinician: { id: row.id, display_name: row.display_name } };
}

function toRecord(row: { id: string; public_key: string; counter: number | string; prf: number }): CredentialRecord {
  return { id: row.id, publicKey: row.public_key, counter: Number(row.counter), prf: Number(row.prf) === 1 };
}

export class RelyingParty {
  private decoyKey: Promise<Buffer> | null = null;
  private decoyTransports: { value: string[]; until: number } | null = null;
  /** Stands in for an unknown device's key, so its refusal costs what a bad signature costs. */
  private readonly decoyDeviceKey: KeyObject = generateKeyPairSync('ed25519').publicKey;

  constructor(
    private readonly db: Db,
    private readonly config: RelyingPartyConfig,
    private readonly clock: Clock,
  ) {}

  /** The same relying party (rpId, database, clock) accepting ceremonies from `origins` only: the privacy console's sign-in (../console/). */
  forOrigins(origins: string[]): RelyingParty {
    return new RelyingParty(this.db, { ...this.config, origins }, this.clock);
  }

  async registrationOptions(clinicianId: string, code: string) {
    const { clinician } = await liveCode(this.db, clinicianId, code, this.clock);
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
    const { codeHash, clinician } = await liveCode(this.db, input.clinicianId, input.code, this.clock);
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
    // The organisation's requirePrf holds here too, not only in the desktop: nothing is stored for such a passkey.
    if (!prf && (await readPolicy(this.db)).requirePrf) throw prfRequired();
    const now = this.clock().toISOString();
    const token = await this.db.transaction().execute(async (trx) => {
      const used = await trx.updateTable('enrollment_codes').set({ used_at: now }).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) throw codeInvalid();
      const device = await trx.selectFrom('devices').selectAll().where('id', '=', input.device.id).executeTakeFirst();
      if (device && (device.clinician_id !== input.clinicianId || device.public_key !== input.device.publicKey)) {
        throw forbidden('DEVICE_CONFLICT', 'This device is registered to someone else.');
      }
      if (device?.revoked_at) throw deviceRevoked();
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
      return createSession(trx, { clinicianId: input.clinicianId, deviceId: input.device.id, scope: 'full', credentialId: credential.id }, this.clock);
    });
    return {
      token,
      clinician: { id: clinician.id, displayName: clinician.display_name },
      credential: { id: credential.id, publicKey: isoBase64URL.fromBuffer(credential.publicKey), counter: credential.counter, prf },
    };
  }

  /**
   * Sign-in options. A clinician with an active passkey (revoked or not, so
   * a revoked clinician's desktop can prove itself and learn it must wipe)
   * gets a stored challenge; anyone else gets the same shape with decoy
   * credential ids derived from a server secret, and nothing is stored.
   */
  async authenticationOptions(clinicianId: string) {
    const creds = await this.db
      .selectFrom('credentials')
      .innerJoin('clinicians', 'clinicians.id', 'credentials.clinician_id')
      .select(['credentials.id', 'credentials.transports'])
      .where('credentials.clinician_id', '=', clinicianId)
      .where('credentials.revoked_at', 'is', null)
      .execute();
    const allowCredentials =
      creds.length > 0
        ? creds.map((c) => ({ id: c.id, transports: JSON.parse(c.transports) as string[] }))
        : [{ id: (await this.decoy(`passkey:${clinicianId}`)).subarray(0, DECOY_ID_BYTES).toString('base64url'), transports: await this.commonTransports() }];
    const options = await generateAuthenticationOptions({
      rpID: this.config.rpId,
      ...(creds.length > 0 ? {} : { challenge: await this.decoyChallenge(clinicianId) }),
      allowCredentials: allowCredentials as never,
      userVerification: 'required',
      extensions: prfExtensionJson() as never,
    });
    if (creds.length > 0) await storeChallenge(this.db, options.challenge, 'authenticate', clinicianId, this.clock);
    return options;
  }

  async authenticationVerify(input: { clinicianId: string; deviceId: string; response: AuthenticationResponse }) {
    const challenge = challengeOf(input.response.response.clientDataJSON);
    let decoy = false;
    try {
      await consumeChallenge(this.db, challenge, 'authenticate', input.clinicianId, this.clock);
    } catch (err) {
      // An unknown clinician's own decoy challenge goes on to fail as a known clinician's unknown passkey does.
      if (!(await this.burnDecoyChallenge(challenge, input.clinicianId))) throw err;
      decoy = true;
    }
    const row = await this.db
      .selectFrom('credentials')
      .selectAll()
      .where('id', '=', input.response.id)
      .where('clinician_id', '=', input.clinicianId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || decoy) throw credentialUnknown();
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
    // The proof holds: from here on the answer may say what is wrong with the clinician or device.
    const clinician = await this.db.selectFrom('clinicians').selectAll().where('id', '=', input.clinicianId).executeTakeFirst();
    if (!clinician || clinician.revoked_at) throw clinicianRevoked();
    const device = await this.db.selectFrom('devices').selectAll().where('id', '=', input.deviceId).executeTakeFirst();
    if (!device || device.clinician_id !== input.clinicianId) throw forbidden('DEVICE_UNKNOWN', 'This device is not enrolled for this clinician.');
    if (device.revoked_at) throw deviceRevoked();
    if (Number(row.prf) !== 1 && (await readPolicy(this.db)).requirePrf) throw prfRequired();
    const now = this.clock().toISOString();
    await this.db.updateTable('credentials').set({ counter: verification.authenticationInfo.newCounter, last_used_at: now }).where('id', '=', row.id).execute();
    await this.db.updateTable('devices').set({ last_seen_at: now }).where('id', '=', device.id).execute();
    const token = await createSession(this.db, { clinicianId: input.clinicianId, deviceId: device.id, scope: 'full', credentialId: row.id }, this.clock);
    const credentials = await this.db.selectFrom('credentials').selectAll().where('clinician_id', '=', input.clinicianId).where('revoked_at', 'is', null).execute();
    return { token, clinician: { id: clinician.id, displayName: clinician.display_name }, credentials: credentials.map(toRecord) };
  }

  /** A single-use challenge for the device key; an unknown device gets one too, but nothing is stored for it. */
  async deviceOptions(deviceId: string): Promise<{ challenge: string }> {
    const device = await this.db.selectFrom('devices').select(['clinician_id']).where('id', '=', deviceId).executeTakeFirst();
    const challenge = randomBytes(32).toString('base64url');
    if (device) await storeChallenge(this.db, challenge, `device:${deviceId}`, device.clinician_id, this.clock);
    return { challenge };
  }

  /**
   * A sync-only session for a device that signed its challenge with the key
   * registered at enrollment: it may push changes and upload its audit
   * chain, nothing else (no patient data comes back without a passkey).
   * An unknown device fails exactly as a bad signature does; revocation is
   * told only to a device that proved itself.
   */
  async deviceVerify(input: { deviceId: string; challenge: string; signature: string }): Promise<{ token: string }> {
    const device = await this.db.selectFrom('devices').selectAll().where('id', '=', input.deviceId).executeTakeFirst();
    let signed = false;
    try {
      const publicKey = device ? createPublicKey({ key: Buffer.from(device.public_key, 'base64url'), format: 'der', type: 'spki' }) : this.decoyDeviceKey;
      signed = verify(null, Buffer.from(deviceSessionMessage(input.deviceId, input.challenge)), publicKey, Buffer.from(input.signature, 'base64'));
    } catch {
      signed = false;
    }
    if (!device || !signed) throw signatureInvalid();
    await consumeChallenge(this.db, input.challenge, `device:${input.deviceId}`, device.clinician_id, this.clock);
    if (device.revoked_at) throw deviceRevoked();
    const clinician = await this.db.selectFrom('clinicians').select(['revoked_at']).where('id', '=', device.clinician_id).executeTakeFirst();
    if (!clinician || clinician.revoked_at) throw clinicianRevoked();
    return { token: await createSession(this.db, { clinicianId: device.clinician_id, deviceId: input.deviceId, scope: 'sync', credentialId: null }, this.clock) };
  }

  /**
   * The session behind a token; `need` 'sync' admits sync-only sessions,
   * 'full' (the default) does not. Ends (and refuses) a session idle longer
   * than the organisation's policy; records the use at most once a minute.
   */
  async session(token: string | undefined, need: SessionScope = 'full'): Promise<Caller> {
    if (!token) throw sessionInvalid();
    const s = await findSession(this.db, token);
    const now = this.clock();
    if (!s || s.expiresAt <= now.toISOString()) throw sessionInvalid();
    if (s.endReason === 'clinician' || s.clinicianRevoked) throw clinicianRevoked();
    if (s.endReason === 'device' || s.deviceRevoked) throw deviceRevoked();
    if (s.credentialRevoked) {
      await deleteSession(this.db, s.tokenHash);
      throw sessionInvalid();
    }
    const { sessionIdleMinutes } = await readPolicy(this.db);
    if (now.getTime() - Date.parse(s.lastUsedAt) > sessionIdleMinutes * 60_000) {
      if (await deleteSession(this.db, s.tokenHash)) securityEvent('session-ended', { what: 'idle', clinicianId: s.clinicianId, deviceId: s.deviceId });
      throw sessionInvalid();
    }
    if (s.scope !== 'full' && need === 'full') throw forbidden('SCOPE_INSUFFICIENT', 'Sign in with your passkey for this.');
    await touchSession(this.db, s, now);
    return { clinicianId: s.clinicianId, deviceId: s.deviceId, scope: s.scope };
  }

  /**
   * Ends the session a token names (any scope): true if it was live, false
   * if it had already ended or expired. A session ended by revocation keeps
   * answering with its revocation code.
   */
  async logout(token: string): Promise<boolean> {
    let caller: Caller;
    try {
      caller = await this.session(token, 'sync');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'SESSION_INVALID') return false;
      throw err;
    }
    const ended = await deleteSession(this.db, tokenHash(token));
    if (ended) securityEvent('session-ended', { what: 'logout', clinicianId: caller.clinicianId, deviceId: caller.deviceId });
    return ended;
  }

  /** One bounded purge pass over expired challenges and expired or idle sessions (the app's timer calls it). */
  async purgeExpired(): Promise<void> {
    const now = this.clock();
    const { sessionIdleMinutes } = await readPolicy(this.db);
    await purgeChallenges(this.db, now.toISOString(), PURGE_BATCH);
    await purgeUsedDecoyChallenges(this.db, now.toISOString(), PURGE_BATCH);
    await purgeSessions(this.db, now.toISOString(), new Date(now.getTime() - sessionIdleMinutes * 60_000).toISOString(), PURGE_BATCH);
  }

  /**
   * A challenge for an unknown clinician that the server can recognise
   * later without storing it: a nonce, the expiry masked under the decoy
   * secret, and a truncated HMAC binding clinician, nonce and expiry. It
   * looks like 32 random bytes and expires as a real challenge does.
   */
  private async decoyChallenge(clinicianId: string): Promise<Uint8Array<ArrayBuffer>> {
    const nonce = randomBytes(DECOY_NONCE_BYTES);
    const expiry = Math.floor(this.clock().getTime() / 1000) + CHALLENGE_MINUTES * 60;
    const masked = Buffer.alloc(4);
    masked.writeUInt32BE(expiry >>> 0);
    const mask = await this.decoy(`decoy-expiry|${nonce.toString('base64url')}`);
    for (let i = 0; i < 4; i++) masked[i]! ^= mask[i]!;
    const tag = (await this.decoy(`decoy-challenge|${clinicianId}|${nonce.toString('base64url')}|${expiry}`)).subarray(0, DECOY_TAG_BYTES);
    return Uint8Array.from(Buffer.concat([nonce, masked, tag]));
  }

  /** The transports most active credentials were stored with (authenticators report them at enrollment), read at most every 10 minutes. */
  private async commonTransports(): Promise<string[]> {
    const now = this.clock().getTime();
    if (this.decoyTransports && this.decoyTransports.until > now) return this.decoyTransports.value;
    const row = await this.db
      .selectFrom('credentials')
      .select((eb) => ['transports', eb.fn.countAll().as('n')])
      .where('revoked_at', 'is', null)
      .groupBy('transports')
      .orderBy('n', 'desc')
      .orderBy('transports')
      .limit(1)
      .executeTakeFirst();
    this.decoyTransports = { value: row ? (JSON.parse(row.transports) as string[]) : DECOY_TRANSPORTS, until: now + DECOY_TRANSPORTS_MS };
    return this.decoyTransports.value;
  }

  /** True (and burns it) if `challenge` is a live, unused decoy challenge issued for `clinicianId`. */
  private async burnDecoyChallenge(challenge: string, clinicianId: string): Promise<boolean> {
    const bytes = Buffer.from(challenge, 'base64url');
    if (bytes.length !== DECOY_NONCE_BYTES + 4 + DECOY_TAG_BYTES) return false;
    const nonce = bytes.subarray(0, DECOY_NONCE_BYTES).toString('base64url');
    const masked = Buffer.from(bytes.subarray(DECOY_NONCE_BYTES, DECOY_NONCE_BYTES + 4));
    const mask = await this.decoy(`decoy-expiry|${nonce}`);
    for (let i = 0; i < 4; i++) masked[i]! ^= mask[i]!;
    const expiry = masked.readUInt32BE(0);
    const tag = (await this.decoy(`decoy-challenge|${clinicianId}|${nonce}|${expiry}`)).subarray(0, DECOY_TAG_BYTES);
    if (!timingSafeEqual(tag, bytes.subarray(DECOY_NONCE_BYTES + 4))) return false;
    const now = this.clock();
    if (expiry * 1000 <= now.getTime()) return false;
    // Burned in the database every instance shares (as a real challenge is), so a replay fails at any of them.
    await purgeUsedDecoyChallenges(this.db, now.toISOString(), PURGE_BATCH);
    const burned = await this.db
      .insertInto('used_decoy_challenges')
      .values({ challenge, expires_at: new Date(expiry * 1000).toISOString() })
      .onConflict((oc) => oc.column('challenge').doNothing())
      .executeTakeFirst();
    return Number(burned.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** HMAC of `label` under the server's decoy secret (made once, kept in the database). */
  private async decoy(label: string): Promise<Buffer> {
    this.decoyKey ??= (async () => {
      await this.db
        .insertInto('server_secrets')
        .values({ name: 'decoy-sign-in', value: randomBytes(32).toString('base64url') })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await this.db.selectFrom('server_secrets').select(['value']).where('name', '=', 'decoy-sign-in').executeTakeFirstOrThrow();
      return Buffer.from(row.value, 'base64url');
    })().catch((err: unknown) => {
      this.decoyKey = null;
      throw err;
    });
    return createHmac('sha256', await this.decoyKey).update(label).digest();
  }
}
