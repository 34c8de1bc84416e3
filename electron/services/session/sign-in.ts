/**
 * Sign-in and unlock of an enrolled computer: online when the backend
 * answers (a passkey session, then one page of the pull: the sync worker,
 * started at the unlock, brings the rest), offline otherwise (checked
 * locally). Either way the passkey's PRF output unwraps the keys, keys still
 * in the keychain unwrapped are bound to it (the migration, read back before
 * it counts), and the cache opens. The finish is one unlock attempt: a lock
 * that arrives while it awaits the keychain, the backend or the pull aborts
 * it and nothing stays open. Offline, the offline-days limit is counted to the
 * latest time the device has seen (latest-time-seen.ts), and the whole record
 * (times, policy, credentials) is checked against the device key's signature
 * once the passkey has opened the keys; online, the backend's answer replaces
 * credentials and policy, both times are reset to the server's and the record
 * is signed again. Never open the cache without a verified passkey,
 * and never without PRF when the policy (strict by default) requires it.
 */
import { AppError } from '../../../shared/app-error';
import type { AuthenticationResponse } from '../../../shared/backend-api';
import { readProfile } from '../cache-profile';
import { openCacheSession } from '../cache-session';
import { cacheKeyIsWrapped, deviceKeysAreBound } from '../device-keys';
import { pullChanges } from '../sync-pull';
import type { SessionContext } from './session-context';
import { decodePrf, PRF_REQUIRED_MESSAGE, readPasskeyRecord, savePasskeyRecord, type PasskeyRecord } from './passkey-record';
import { requestOnlineOptions, verifyOnline } from './online-sign-in';
import { offlineOptions, verifyOffline, type OfflineChallenge } from './offline-unlock';
import { isRevocation } from './revocation';
import { offlineTooLong, offlineUnconfirmed, pastOfflineLimit, recordIsSigned, signRecord, timeFloorOf } from './latest-time-seen';

type PendingSignIn = { kind: 'online'; clinicianId: string } | ({ kind: 'offline'; clinicianId: string } & OfflineChallenge);

export class SignIn {
  private pending: PendingSignIn | null = null;

  constructor(private readonly ctx: SessionContext) {
    ctx.session.onEnd(() => (this.pending = null));
  }

  async begin() {
    const record = await readPasskeyRecord(this.ctx.dataDir, this.ctx.secrets);
    if (!record) throw new AppError('NOT_ENROLLED', 'This computer is not enrolled yet. Enroll with a code from IT.');
    try {
      const options = await requestOnlineOptions(this.ctx.backend, record.clinicianId);
      this.ctx.session.setOnline(true);
      this.pending = { kind: 'online', clinicianId: record.clinicianId };
      return { options, offline: false };
    } catch (err) {
      if (!(err instanceof AppError) || (err.code !== 'BACKEND_UNREACHABLE' && err.code !== 'BACKEND_FAILED')) throw err;
    }
    this.ctx.session.setOnline(false);
    // What is already recorded (not this clock reading: past the limit on its own, it is recorded at the finish, then refused).
    const recordedLatest = timeFloorOf(this.ctx.session).latest(0, record);
    const { challenge, options } = offlineOptions(record, this.ctx.rpId, this.ctx.session.lock.monotonic(), recordedLatest);
    this.pending = { kind: 'offline', clinicianId: record.clinicianId, ...challenge };
    return { options, offline: true };
  }

  async finish(response: AuthenticationResponse, prfOutput?: string) {
    const pending = this.pending;
    this.pending = null;
    if (!pending) throw new AppError('SIGN_IN_REFUSED', 'The sign-in request expired or was already used. Try again.');
    const { ctx } = this;
    const attempt = ctx.session.begin();
    try {
      const prf = decodePrf(prfOutput);
      const stored = await readPasskeyRecord(ctx.dataDir, ctx.secrets);
      attempt.check();
      const profile = readProfile(ctx.dataDir);
      if (!stored || !profile) throw new AppError('NOT_ENROLLED', 'This computer is not enrolled yet.');
      // A copy: the offline check moves a counter in it, while `stored` is what the signature is checked against.
      let record: PasskeyRecord = structuredClone(stored);
      let token: string | null = null;
      if (pending.kind === 'online') {
        const verified = await verifyOnline(ctx.backend, stored, profile.profileId, response, ctx.clock());
        token = attempt.adoptToken(verified.token);
        record = verified.record;
      } else {
        await verifyOffline(record, pending, response, { rpId: ctx.rpId, origins: ctx.origins }, ctx.session.lock.monotonic());
      }
      const bound = await deviceKeysAreBound(ctx.secrets, profile.profileId);
      const cacheWrapped = bound || (await cacheKeyIsWrapped(ctx.secrets, profile.profileId));
      attempt.check();
      if (!cacheWrapped && !prf && record.policy.requirePrf) throw new AppError('PRF_REQUIRED', PRF_REQUIRED_MESSAGE);
      const cache = attempt.adoptCache(
        await openCacheSession({
          dataDir: ctx.dataDir,
          secrets: ctx.secrets,
          actor: record.clinicianId,
          actorName: record.displayName,
          create: false,
          network: () => ctx.network(),
          ...(prf ? { prfOutput: prf } : {}),
          // Keys from before the signing key was wrapped (or from before PRF): bound once the cache opened with them, each read back.
          ...(prf && !bound ? { binding: { prfOutput: prf, credentialId: response.id } } : {}),
        }),
      );
      const floor = timeFloorOf(ctx.session);
      if (pending.kind === 'online') {
        // An online sign-in resets both times to the server's own (a clock once far ahead locks nobody out for good).
        const serverNow = ctx.backend.serverTime() ?? ctx.clock();
        record = signRecord(profile.profileId, record, serverNow, serverNow, cache.keys.signingKey);
        floor.recorded(serverNow);
      } else {
        // Offline: the stored record (times, policy, credentials) must be this device's own; the latest time seen only ever rises.
        if (!recordIsSigned(profile.profileId, stored, cache.keys.publicKey)) throw offlineUnconfirmed();
        const latest = floor.latest(ctx.clock(), stored);
        record = signRecord(profile.profileId, record, stored.lastOnlineAt, latest, cache.keys.signingKey);
        if (pastOfflineLimit(record, latest, record.policy.offlineDays)) {
          // Record this reading first, so setting the clock back afterwards cannot undo it.
          await savePasskeyRecord(ctx.secrets, profile.profileId, record);
          floor.recorded(latest);
          throw offlineTooLong(record.policy.offlineDays);
        }
        floor.recorded(latest);
      }
      await savePasskeyRecord(ctx.secrets, profile.profileId, record);
      attempt.check();
      // One page, so the workspace appears at once; the sync worker, started below, pulls the rest with its progress.
      if (token) await pullChanges(cache, ctx.backend, token, { maxPages: 1 });
      ctx.session.finish(attempt, { scope: 'passkey', idleMinutes: record.policy.idleLockMinutes });
      ctx.startSync();
      return { clinician: { id: record.clinicianId, displayName: record.displayName }, offline: pending.kind === 'offline' };
    } catch (err) {
      const failure = ctx.session.fail(attempt, err);
      if (isRevocation(failure)) await ctx.wipe(failure.message);
      throw failure;
    }
  }
}
