/**
 * Enrollment of this computer: a one-time code from IT and a new platform
 * passkey. The device's keys are made in memory and the device registered
 * with the backend first; only once the organisation's policy is known are
 * they written, wrapped by the passkey's PRF-derived key when it has PRF, so
 * they are never in the keychain unwrapped on a PRF device. Without PRF the
 * policy (strict by default) decides: refused, nothing is left behind. The
 * whole ceremony is one unlock attempt, so a lock meanwhile aborts it. It
 * pulls one page of the clinician's records; the sync worker, started at the
 * unlock, brings the rest with its progress.
 * Never store a key unwrapped when a PRF output is at hand, and never keep
 * leftovers of an enrollment that did not finish.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../../shared/app-error';
import type { RegistrationResponse } from '../../../shared/backend-api';
import { readProfile } from '../cache-profile';
import { openCacheSession } from '../cache-session';
import { deleteDeviceKeys, dropKeys, generateDeviceKeys, loadDeviceKeys, type DeviceKeys, type PasskeyBinding } from '../device-keys';
import { pullChanges } from '../sync-pull';
import type { SessionContext } from './session-context';
import { decodePrf, PRF_REQUIRED_MESSAGE, readEnrollment, readPasskeyRecord, savePasskeyRecord, withoutPrfOutput } from './passkey-record';
import { isRevocation, wipeLocalProfile } from './revocation';
import { signRecord, timeFloorOf } from './latest-time-seen';

interface PendingEnrollment {
  clinicianId: string;
  code: string;
}

export class Enrollment {
  private pending: PendingEnrollment | null = null;

  constructor(private readonly ctx: SessionContext) {
    ctx.session.onEnd(() => (this.pending = null));
  }

  async begin(clinicianId: string, code: string) {
    if (await readPasskeyRecord(this.ctx.dataDir, this.ctx.secrets)) throw new AppError('SIGN_IN_REFUSED', 'This computer is already enrolled. Sign in instead.');
    const { options } = await this.ctx.backend.enrollOptions({ clinicianId, code });
    this.pending = { clinicianId, code };
    return { options };
  }

  async finish(response: RegistrationResponse, prfOutput?: string) {
    const pending = this.pending;
    this.pending = null;
    if (!pending) throw new AppError('SIGN_IN_REFUSED', 'Start the enrollment again.');
    const prf = decodePrf(prfOutput);
    const { ctx } = this;
    const attempt = ctx.session.begin();
    const existing = readProfile(ctx.dataDir);
    let fresh: { profileId: string; keys: DeviceKeys } | null = null;
    try {
      // A cache already in the folder (imported before enrollment) keeps its keys; otherwise new ones, in memory.
      const keys = existing ? await loadDeviceKeys(ctx.secrets, existing.profileId, prf) : generateDeviceKeys();
      attempt.check();
      const profileId = existing?.profileId ?? randomUUID();
      if (!existing) fresh = { profileId, keys };
      const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
      const reply = await ctx.backend.enrollVerify({
        clinicianId: pending.clinicianId,
        code: pending.code,
        response: withoutPrfOutput(response),
        device: { id: profileId, publicKey },
      });
      const token = attempt.adoptToken(reply.token);
      if (!prf && reply.policy.requirePrf) throw new AppError('PRF_REQUIRED', PRF_REQUIRED_MESSAGE);
      const binding: PasskeyBinding | undefined = prf ? { prfOutput: prf, credentialId: reply.credential.id } : undefined;
      if (existing) dropKeys(keys);
      const cache = attempt.adoptCache(
        await openCacheSession({
          dataDir: ctx.dataDir,
          secrets: ctx.secrets,
          actor: reply.clinician.id,
          actorName: reply.clinician.displayName,
          network: () => ctx.network(),
          // An existing profile's keys still unwrapped are bound to the passkey once the cache opened with them.
          ...(existing ? { create: false, ...(prf ? { prfOutput: prf } : {}) } : { create: true, profileId, newKeys: keys }),
          ...(binding ? { binding } : {}),
        }),
      );
      // The offline-days clock starts at the server's time; the whole record is signed by the device key (latest-time-seen.ts).
      const serverNow = ctx.backend.serverTime() ?? ctx.clock();
      const record = { clinicianId: reply.clinician.id, displayName: reply.clinician.displayName, credentials: [reply.credential], policy: reply.policy, lastOnlineAt: serverNow };
      await savePasskeyRecord(ctx.secrets, profileId, signRecord(profileId, record, serverNow, serverNow, cache.keys.signingKey));
      timeFloorOf(ctx.session).recorded(serverNow);
      attempt.check();
      // One page, so the workspace appears at once; the sync worker, started below, pulls the rest with its progress.
      await pullChanges(cache, ctx.backend, token, { maxPages: 1 });
      ctx.session.setOnline(true);
      ctx.session.finish(attempt, { scope: 'passkey', idleMinutes: reply.policy.idleLockMinutes });
      ctx.startSync();
      return { clinician: reply.clinician, prfBound: prf !== undefined };
    } catch (err) {
      const failure = ctx.session.fail(attempt, err);
      if (fresh) dropKeys(fresh.keys);
      if (isRevocation(failure)) {
        await ctx.wipe(failure.message);
      } else if (!(await readEnrollment(ctx.dataDir, ctx.secrets).then((e) => e.enrolled, () => false))) {
        // (A locked keychain holding a record counts as enrolled: nothing is deleted because of a lock.)
        // Not enrolled after all: nothing of this attempt stays (a refused PRF also clears an imported cache).
        const refusedPrf = failure instanceof AppError && failure.code === 'PRF_REQUIRED';
        if (fresh) await deleteDeviceKeys(ctx.secrets, fresh.profileId).catch(() => undefined);
        if (fresh || refusedPrf) await wipeLocalProfile(ctx.dataDir, ctx.secrets).catch(() => undefined);
        ctx.session.settleSignedOut(refusedPrf ? failure.message : null);
      }
      throw failure;
    }
  }
}
