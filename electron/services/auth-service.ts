/**
 * Sign-in, lock and unlock for the desktop, in main. Runs the enrollment and
 * sign-in ceremonies against the backend (the renderer only talks to the
 * authenticator), keeps the session token in memory, binds the cache key to
 * the passkey's PRF output, verifies assertions locally when offline, locks
 * (closing the cache and dropping every key), and wipes on revocation
 * (keychain entries first, then files). Never hand the renderer a token, a
 * key or a PRF output, and never open the cache without a verified passkey.
 */
import { randomBytes, sign } from 'node:crypto';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';
import { credentialRecordSchema, deviceSessionMessage, policySchema, type AuthenticationResponse, type RegistrationResponse } from '../../shared/backend-api';
import { prfExtensionJson } from '../../shared/passkey-prf';
import type { AuditNetwork } from '../../shared/audit-entry';
import type { BackendClient } from './backend-client';
import { pullChanges } from './sync-pull';
import { readProfile } from './cache-profile';
import { openCacheSession, type CacheSession } from './cache-session';
import { wipeCache } from './cache-maintenance';
import { bindCacheKeyToPasskey, cacheKeyIsWrapped } from './device-keys';
import type { RegistryDeps } from './handler-registry';
import { LockMachine, type LockReason, type LockState } from './lock-machine';
import type { SecretStore } from './secret-store';
import { SyncWorker, type SyncStatus } from './sync-worker';

/** What this device remembers of its clinician, kept in the keychain (integrity matters for offline unlock). */
const passkeyRecordSchema = z.object({
  clinicianId: z.string(),
  displayName: z.string(),
  credentials: z.array(credentialRecordSchema),
  policy: policySchema,
  lastOnlineAt: z.number(),
});
type PasskeyRecord = z.infer<typeof passkeyRecordSchema>;

const OFFLINE_CHALLENGE_MS = 2 * 60_000;
const DAY_MS = 86_400_000;

export interface AuthServiceOptions {
  dataDir: string;
  secrets: SecretStore;
  backend: BackendClient;
  rpId: string;
  /** Origins the renderer runs at; offline assertions must come from one of them. */
  origins: string[];
  clock?: () => number;
}

export interface AuthStatus {
  state: LockState['kind'];
  reason: string | null;
  enrolled: boolean;
  clinician: { id: string; displayName: string } | null;
  online: boolean;
  version: number;
}

type Pending =
  | { kind: 'enroll'; clinicianId: string; code: string }
  | { kind: 'online'; clinicianId: string }
  | { kind: 'offline'; clinicianId: string; challenge: string; expires: number };

function recordAccount(profileId: string): string {
  return `${profileId}/passkeys`;
}

function decodePrf(prfOutput: string | undefined): Buffer | undefined {
  if (!prfOutput) return undefined;
  const b = Buffer.from(prfOutput, 'base64url');
  if (b.length !== 32) throw new AppError('PASSKEY_FAILED', 'The passkey returned an unusable key.');
  return b;
}

/** The response as the backend may see it: extension outputs reduced to "PRF is enabled". */
function withoutPrfOutput<T extends { clientExtensionResults: Record<string, unknown> }>(response: T): T {
  const prf = response.clientExtensionResults.prf as { enabled?: unknown } | undefined;
  return { ...response, clientExtensionResults: prf?.enabled === true ? { prf: { enabled: true } } : {} };
}

export class AuthService implements RegistryDeps {
  readonly lock: LockMachine;
  private current: CacheSession | null = null;
  private token: string | null = null;
  private pending: Pending | null = null;
  private online = true;
  private readonly clock: () => number;
  private readonly worker: SyncWorker;

  constructor(private readonly options: AuthServiceOptions) {
    this.clock = options.clock ?? Date.now;
    this.lock = new LockMachine({ kind: 'signed-out', reason: null }, 10 * 60_000, this.clock);
    // Retry at least every 2 s while failing, so work flows within seconds of the network returning.
    this.worker = new SyncWorker({
      backend: options.backend,
      session: () => this.session(),
      token: () => this.token,
      authorize: () => this.authorizeDevice(),
      // Patient data comes in only on a session opened with a passkey the backend verified.
      pullAllowed: () => this.online,
      maxDelayMs: 2000,
    });
  }

  /**
   * After an offline unlock, the device's own key (registered at
   * enrollment, in the keychain) gets a sync-only session once the backend
   * is reachable, so work done offline goes out without waiting for the
   * next online sign-in. Such a session pushes and uploads; it never pulls.
   */
  private async authorizeDevice(): Promise<void> {
    const session = this.current;
    if (!session || this.token || this.online) return;
    const deviceId = session.profile.profileId;
    const { challenge } = await this.options.backend.deviceOptions({ deviceId });
    const signature = sign(null, Buffer.from(deviceSessionMessage(deviceId, challenge)), session.keys.signingKey).toString('base64');
    const { token } = await this.options.backend.deviceVerify({ deviceId, challenge, signature });
    // Locked meanwhile: the token is dropped with the session it was for.
    if (this.current === session && !this.online) this.token = token;
  }

  /**
   * Whether this device is connected to the hospital server now, as recorded
   * in each audit entry: a session with the backend (passkey or device key)
   * and the last sync attempt reached it.
   */
  private network(): AuditNetwork {
    return (this.online || this.token !== null) && this.worker.status.online ? 'online' : 'offline';
  }

  /** The OS says the network came or went. */
  networkChanged(online: boolean): void {
    this.worker.networkChanged(online);
  }

  /** Wakes the sync worker (a local change was just written). */
  nudgeSync(): void {
    this.worker.nudge();
  }

  syncState(): SyncStatus {
    return this.worker.status;
  }

  /** For tests and shutdown: stops the background sync. */
  async stopSync(): Promise<void> {
    await this.worker.stop();
  }

  /** Reads what the keychain remembers and starts locked (enrolled) or signed out. */
  async start(): Promise<void> {
    const record = await this.record();
    if (record) {
      this.lock.setIdleMinutes(record.policy.idleLockMinutes);
      this.lock.startLocked();
    } else {
      this.lock.signedOut(null);
    }
  }

  // RegistryDeps: the PHI handlers see a session only while unlocked.
  session(): CacheSession | null {
    return this.lock.state.kind === 'unlocked' ? this.current : null;
  }
  problem(): AppError | null {
    return this.lock.state.kind === 'unlocked' ? null : new AppError('LOCKED', 'The app is locked. Sign in with your passkey to continue.');
  }
  actor(): string | null {
    return this.current?.context.actor ?? null;
  }

  private async record(): Promise<PasskeyRecord | null> {
    const profile = readProfile(this.options.dataDir);
    if (!profile) return null;
    const text = await this.options.secrets.get(recordAccount(profile.profileId));
    if (!text) return null;
    const parsed = passkeyRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  }

  private async saveRecord(profileId: string, record: PasskeyRecord): Promise<void> {
    await this.options.secrets.set(recordAccount(profileId), JSON.stringify(record));
  }

  async status(): Promise<AuthStatus> {
    const record = await this.record();
    const s = this.lock.state;
    return {
      state: s.kind,
      reason: s.kind === 'unlocked' ? null : s.reason,
      enrolled: record !== null,
      clinician: record ? { id: record.clinicianId, displayName: record.displayName } : null,
      online: this.online,
      version: this.lock.version,
    };
  }

  /** Resolves when the state moves past `version`, or after `timeoutMs`. */
  watch(version: number, timeoutMs = 20_000): Promise<void> {
    if (this.lock.version !== version) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const off = this.lock.onChange(done);
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  activity(): void {
    this.lock.activity();
  }

  async enrollBegin(clinicianId: string, code: string) {
    if (await this.record()) throw new AppError('SIGN_IN_REFUSED', 'This computer is already enrolled. Sign in instead.');
    const { options } = await this.options.backend.enrollOptions({ clinicianId, code });
    this.pending = { kind: 'enroll', clinicianId, code };
    return { options };
  }

  async enrollFinish(response: RegistrationResponse, prfOutput?: string) {
    const pending = this.pending;
    this.pending = null;
    if (pending?.kind !== 'enroll') throw new AppError('SIGN_IN_REFUSED', 'Start the enrollment again.');
    const prf = decodePrf(prfOutput);
    const session = await openCacheSession({ dataDir: this.options.dataDir, secrets: this.options.secrets, actor: pending.clinicianId, create: true, network: () => this.network() });
    try {
      const publicKey = session.keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
      const reply = await this.options.backend.enrollVerify({
        clinicianId: pending.clinicianId,
        code: pending.code,
        response: withoutPrfOutput(response),
        device: { id: session.profile.profileId, publicKey },
      });
      if (prf) {
        await bindCacheKeyToPasskey(this.options.secrets, session.profile.profileId, session.keys.cacheKey, prf, reply.credential.id);
      } else if (reply.policy.requirePrf) {
        throw new AppError('PRF_REQUIRED', 'Your organisation requires a passkey that can protect the patient cache (PRF). This one cannot; use Windows Hello or Touch ID.');
      }
      await this.saveRecord(session.profile.profileId, {
        clinicianId: reply.clinician.id,
        displayName: reply.clinician.displayName,
        credentials: [reply.credential],
        policy: reply.policy,
        lastOnlineAt: this.clock(),
      });
      this.token = reply.token;
      this.online = true;
      this.current = session;
      this.lock.setIdleMinutes(reply.policy.idleLockMinutes);
      await pullChanges(session, this.options.backend, reply.token);
      this.lock.unlocked();
      this.worker.start();
      return { clinician: reply.clinician, prfBound: prf !== undefined };
    } catch (err) {
      this.current = null;
      session.close();
      if (err instanceof AppError && err.code === 'PRF_REQUIRED') await this.wipe(err.message);
      throw err;
    }
  }

  async signInBegin() {
    const record = await this.record();
    if (!record) throw new AppError('NOT_ENROLLED', 'This computer is not enrolled yet. Enroll with a code from IT.');
    try {
      const { options } = await this.options.backend.authOptions({ clinicianId: record.clinicianId });
      this.online = true;
      this.pending = { kind: 'online', clinicianId: record.clinicianId };
      return { options, offline: false };
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'BACKEND_UNREACHABLE') throw err;
    }
    this.online = false;
    if (this.clock() - record.lastOnlineAt > record.policy.offlineDays * DAY_MS) {
      throw new AppError('OFFLINE_TOO_LONG', `This computer has been offline for more than ${record.policy.offlineDays} days. Connect to the hospital network to sign in.`);
    }
    const challenge = randomBytes(32).toString('base64url');
    this.pending = { kind: 'offline', clinicianId: record.clinicianId, challenge, expires: this.clock() + OFFLINE_CHALLENGE_MS };
    return {
      options: {
        challenge,
        rpId: this.options.rpId,
        allowCredentials: record.credentials.map((c) => ({ id: c.id, type: 'public-key' as const })),
        userVerification: 'required',
        timeout: 60_000,
        extensions: prfExtensionJson(),
      },
      offline: true,
    };
  }

  async signInFinish(response: AuthenticationResponse, prfOutput?: string) {
    const pending = this.pending;
    this.pending = null;
    if (pending?.kind !== 'online' && pending?.kind !== 'offline') throw new AppError('SIGN_IN_REFUSED', 'The sign-in request expired or was already used. Try again.');
    const record = await this.record();
    const profile = readProfile(this.options.dataDir);
    if (!record || !profile) throw new AppError('NOT_ENROLLED', 'This computer is not enrolled yet.');
    const prf = decodePrf(prfOutput);

    let token: string | null = null;
    if (pending.kind === 'online') {
      let reply;
      try {
        reply = await this.options.backend.authVerify({ clinicianId: pending.clinicianId, deviceId: profile.profileId, response: withoutPrfOutput(response) });
      } catch (err) {
        if (err instanceof AppError && err.code === 'DEVICE_REVOKED') await this.wipe(err.message);
        throw err;
      }
      token = reply.token;
      record.credentials = reply.credentials;
      record.policy = reply.policy;
      record.lastOnlineAt = this.clock();
    } else {
      if (this.clock() > pending.expires) throw new AppError('SIGN_IN_REFUSED', 'The sign-in request expired. Try again.');
      const credential = record.credentials.find((c) => c.id === response.id);
      if (!credential) throw new AppError('SIGN_IN_REFUSED', 'This passkey is not registered on this computer.');
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response: response as unknown as AuthenticationResponseJSON,
          expectedChallenge: pending.challenge,
          expectedOrigin: this.options.origins,
          expectedRPID: this.options.rpId,
          credential: { id: credential.id, publicKey: isoBase64URL.toBuffer(credential.publicKey), counter: credential.counter },
          requireUserVerification: true,
        });
      } catch {
        throw new AppError('SIGN_IN_REFUSED', 'The passkey sign-in could not be verified.');
      }
      if (!verified.verified) throw new AppError('SIGN_IN_REFUSED', 'The passkey sign-in could not be verified.');
      credential.counter = verified.authenticationInfo.newCounter;
    }

    const wrapped = await cacheKeyIsWrapped(this.options.secrets, profile.profileId);
    if (!wrapped && !prf && record.policy.requirePrf) {
      throw new AppError('PRF_REQUIRED', 'Your organisation requires a passkey that can protect the patient cache (PRF).');
    }
    const session = await openCacheSession({
      dataDir: this.options.dataDir,
      secrets: this.options.secrets,
      actor: record.clinicianId,
      create: false,
      network: () => this.network(),
      ...(prf ? { prfOutput: prf } : {}),
    });
    if (!wrapped && prf) await bindCacheKeyToPasskey(this.options.secrets, profile.profileId, session.keys.cacheKey, prf, response.id);
    await this.saveRecord(profile.profileId, record);
    this.current = session;
    this.token = token;
    this.online = pending.kind === 'online';
    this.lock.setIdleMinutes(record.policy.idleLockMinutes);
    if (pending.kind === 'online' && token) await pullChanges(session, this.options.backend, token);
    this.lock.unlocked();
    this.worker.start();
    return { clinician: { id: record.clinicianId, displayName: record.displayName }, offline: pending.kind === 'offline' };
  }

  /** Locks: closes the cache, drops the keys and the session token, then tells watchers. */
  lockNow(reason: LockReason): void {
    void this.worker.stop();
    this.pending = null;
    this.token = null;
    this.current?.close();
    this.current = null;
    this.lock.lock(reason);
  }

  /** Checks the lock policy's idle timer; call it periodically. */
  tick(): void {
    if (this.lock.isIdle()) this.lockNow('idle');
  }

  async devices() {
    if (!this.token) throw new AppError('SIGN_IN_REFUSED', 'Sign in online to manage devices.');
    try {
      const me = await this.options.backend.me(this.token);
      return { devices: me.devices, thisDevice: me.device.id };
    } catch (err) {
      if (err instanceof AppError && err.code === 'DEVICE_REVOKED') await this.wipe(err.message);
      throw err;
    }
  }

  async revokeDevice(deviceId: string) {
    if (!this.token) throw new AppError('SIGN_IN_REFUSED', 'Sign in online to manage devices.');
    const profile = readProfile(this.options.dataDir);
    await this.options.backend.revokeDevice(this.token, deviceId);
    if (profile?.profileId === deviceId) await this.wipe('This device was revoked.');
    return { revoked: true };
  }

  /** Asks the backend whether this device is still allowed; wipes if not. */
  async checkRevocation(): Promise<void> {
    if (!this.token) return;
    try {
      await this.options.backend.me(this.token);
    } catch (err) {
      if (err instanceof AppError && err.code === 'DEVICE_REVOKED') await this.wipe(err.message);
    }
  }

  /** Remote wipe: keychain entries first (the data is then unreadable), then the files. */
  async wipe(reason: string): Promise<void> {
    await this.worker.stop();
    this.pending = null;
    this.token = null;
    this.current?.close();
    this.current = null;
    const profile = (() => {
      try {
        return readProfile(this.options.dataDir);
      } catch {
        return null;
      }
    })();
    if (profile) await this.options.secrets.delete(recordAccount(profile.profileId));
    try {
      await wipeCache(this.options.dataDir, this.options.secrets);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'CACHE_NOT_OPEN')) throw err;
    }
    this.lock.signedOut(reason);
  }
}
