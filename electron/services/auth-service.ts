/**
 * The desktop's sign-in and lock, composed: the one session owner
 * (session/desktop-session.ts: lock state, open cache, token), enrollment,
 * sign-in (online or offline unlock), revocation and wipe beside it, and the
 * sync worker that asks it for the cache and token. This file only wires
 * them and serves the calls the handler registry and main make. Never hand
 * the renderer a token, a key or a PRF output, and never open the cache
 * without a verified passkey.
 */
import { sign } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import { DEFAULT_UNDO_SECONDS, deviceSessionMessage, type AuthenticationResponse, type RegistrationResponse } from '../../shared/backend-api';
import type { AuditNetwork } from '../../shared/audit-entry';
import type { AuthStatus } from '../../shared/contract';
import { isSessionEnded, type BackendClient } from './backend-client';
import { readProfile } from './cache-profile';
import { flushDeviceHeads } from './rollback-guard';
import type { CacheSession } from './cache-session';
import type { LockReason } from './lock-machine';
import type { SecretStore } from './secret-store';
import { SyncWorker, type SyncStatus } from './sync-worker';
import { DesktopSession } from './session/desktop-session';
import { Enrollment } from './session/enrollment';
import { FALLBACK_POLICY, readEnrollment } from './session/passkey-record';
import { isRevocation, wipeDevice } from './session/revocation';
import type { SessionContext } from './session/session-context';
import { SignIn } from './session/sign-in';
import type { SignInSurface } from './session/sign-in-surface';
import { ConsultService } from './consult/consult-service';

export interface AuthServiceOptions {
  dataDir: string;
  secrets: SecretStore;
  backend: BackendClient;
  rpId: string;
  /** Origins the renderer runs at; offline assertions must come from one of them. */
  origins: string[];
  clock?: () => number;
  /** The monotonic clock idle time is counted on: performance.now, or `clock` when a test injects only that. */
  monotonic?: () => number;
}

export type { AuthStatus };

export class AuthService implements SignInSurface {
  /** The session owner: every other service asks it for the cache, the token and the lock state. */
  readonly desktop: DesktopSession;
  /** Consultations: the call's socket and media grant end with the session (a lock, sign-out or wipe). */
  readonly consult: ConsultService;
  private readonly worker: SyncWorker;
  private readonly enrollment: Enrollment;
  private readonly signIn: SignIn;

  constructor(private readonly options: AuthServiceOptions) {
    const clock = options.clock ?? Date.now;
    this.desktop = new DesktopSession(options.backend, clock, options.monotonic ?? options.clock);
    // Retry at least every 2 s while failing, so work flows within seconds of the network returning.
    this.worker = new SyncWorker({
      backend: options.backend,
      session: () => this.desktop.openCache(),
      token: () => this.desktop.currentToken(),
      authorize: () => this.authorizeDevice(),
      // Patient data (pulls, conflict content) comes in only on a session opened with a passkey the backend verified.
      pullAllowed: () => this.desktop.hasPasskeySession(),
      sessionEnded: (token) => this.desktop.sessionEnded(token),
      revoked: (message) => void this.wipe(message),
      maxDelayMs: 2000,
      // Set-aside times on the same monotonic clock as the idle lock (a wall clock set back does not lengthen them).
      monotonic: options.monotonic ?? options.clock,
      // The undo window: the organisation's undoSeconds, from the policy the last sign-in kept (as idleLockMinutes).
      undoSeconds: () => this.undoSeconds(),
    });
    this.desktop.onEnd(() => void this.worker.stop());
    this.consult = new ConsultService({ backend: options.backend, session: this.desktop });
    const ctx: SessionContext = {
      dataDir: options.dataDir,
      secrets: options.secrets,
      backend: options.backend,
      rpId: options.rpId,
      origins: options.origins,
      clock,
      session: this.desktop,
      network: () => this.network(),
      startSync: () => this.worker.start(),
      wipe: (reason) => this.wipe(reason),
    };
    this.enrollment = new Enrollment(ctx);
    this.signIn = new SignIn(ctx);
  }

  /** The policy's undoSeconds per unlocked cache: read once from the record each sign-in saved (before sync starts). */
  private readonly undoWindows = new WeakMap<CacheSession, Promise<number>>();
  private undoSeconds(): Promise<number> {
    const fallback = FALLBACK_POLICY.undoSeconds ?? DEFAULT_UNDO_SECONDS;
    const cache = this.desktop.openCache();
    if (!cache) return Promise.resolve(fallback);
    let seconds = this.undoWindows.get(cache);
    if (!seconds) {
      // No record or no undoSeconds in it (a record from before the setting): the fallback policy's window.
      seconds = readEnrollment(this.options.dataDir, this.options.secrets).then(
        ({ record }) => record?.policy.undoSeconds ?? fallback,
        () => fallback,
      );
      this.undoWindows.set(cache, seconds);
    }
    return seconds;
  }

  get lock() {
    return this.desktop.lock;
  }

  /**
   * After an offline unlock (or once the backend ended the passkey session),
   * the device key, unwrapped in memory by the passkey unlock, gets a
   * sync-only session so work goes out. It never pulls. The keychain alone
   * cannot do this: with PRF the key there is wrapped.
   */
  private async authorizeDevice(): Promise<void> {
    const cache = this.desktop.openCache();
    if (!cache || this.desktop.currentToken() || this.desktop.online) return;
    const deviceId = cache.profile.profileId;
    const { challenge } = await this.options.backend.deviceOptions({ deviceId });
    const signature = sign(null, Buffer.from(deviceSessionMessage(deviceId, challenge)), cache.keys.signingKey).toString('base64');
    const { token } = await this.options.backend.deviceVerify({ deviceId, challenge, signature });
    // Locked meanwhile: the token is logged out, never kept.
    this.desktop.setDeviceToken(cache, token);
  }

  /**
   * Whether this device is connected to the hospital server now, as recorded
   * in each audit entry: a session with the backend (passkey or device key)
   * and the last sync attempt reached it.
   */
  private network(): AuditNetwork {
    return (this.desktop.online || this.desktop.currentToken() !== null) && this.worker.status.online ? 'online' : 'offline';
  }

  networkChanged(online: boolean): void {
    this.worker.networkChanged(online);
  }

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
    // A locked keychain still counts as enrolled: start locked (its unlock says KEYCHAIN_LOCKED), never offer enrollment.
    const { enrolled, record } = await readEnrollment(this.options.dataDir, this.options.secrets);
    if (enrolled) {
      if (record) this.lock.setIdleMinutes(record.policy.idleLockMinutes);
      this.lock.startLocked();
    } else {
      this.lock.signedOut(null);
    }
  }

  // What the PHI handlers ask (RegistryDeps): a cache only while unlocked.
  session(): CacheSession | null {
    return this.desktop.openCache();
  }
  problem(): AppError | null {
    return this.session() ? null : new AppError('LOCKED', 'The app is locked. Sign in with your passkey to continue.');
  }
  actor(): string | null {
    return this.desktop.actor();
  }

  async status(): Promise<AuthStatus> {
    const { enrolled, record } = await readEnrollment(this.options.dataDir, this.options.secrets);
    const s = this.lock.state;
    // An unlock under way shows as where it started: the renderer waits on its own call.
    const state = s.kind === 'unlocking' ? s.from : s.kind;
    return {
      state,
      reason: s.kind === 'unlocked' || s.kind === 'unlocking' ? null : s.reason,
      enrolled,
      clinician: record ? { id: record.clinicianId, displayName: record.displayName } : null,
      online: this.desktop.online,
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

  enrollBegin(clinicianId: string, code: string) {
    return this.enrollment.begin(clinicianId, code);
  }

  enrollFinish(response: RegistrationResponse, prfOutput?: string) {
    return this.enrollment.finish(response, prfOutput);
  }

  signInBegin() {
    return this.signIn.begin();
  }

  signInFinish(response: AuthenticationResponse, prfOutput?: string) {
    return this.signIn.finish(response, prfOutput);
  }

  /** Locks (any reason, including during an unlock under way): cache closed, keys and token dropped, token logged out. */
  lockNow(reason: LockReason): void {
    this.desktop.lockNow(reason);
  }

  /**
   * Quit: locks at once (the lock never waits), then gives the logout of the
   * session just dropped up to `timeoutMs` to reach the backend.
   */
  async quit(timeoutMs = 2000): Promise<void> {
    this.lockNow('quit');
    await this.worker.stop();
    // The device's audit chain head written at close must reach the keychain before the process ends.
    await this.desktop.cachesClosed();
    await Promise.all([this.desktop.logoutsSettled(timeoutMs), flushDeviceHeads()]);
  }

  /** Checks the lock policy's idle timer; call it periodically. */
  tick(): void {
    if (this.lock.isIdle()) this.lockNow('idle');
  }

  private passkeyToken(): string {
    const token = this.desktop.hasPasskeySession() ? this.desktop.currentToken() : null;
    if (!token) throw new AppError('SIGN_IN_REFUSED', 'Sign in online to manage devices.');
    return token;
  }

  async devices() {
    const token = this.passkeyToken();
    try {
      const me = await this.options.backend.me(token);
      return { devices: me.devices, thisDevice: me.device.id };
    } catch (err) {
      if (isRevocation(err)) await this.wipe(err.message);
      throw err;
    }
  }

  async revokeDevice(deviceId: string) {
    const token = this.passkeyToken();
    const profile = readProfile(this.options.dataDir);
    await this.options.backend.revokeDevice(token, deviceId);
    if (profile?.profileId === deviceId) await this.wipe('This device was revoked.');
    return { revoked: true };
  }

  /** Asks the backend whether this device is still allowed; wipes if not. */
  async checkRevocation(): Promise<void> {
    const token = this.desktop.currentToken();
    if (!token) return;
    try {
      await this.options.backend.me(token);
    } catch (err) {
      if (isRevocation(err)) await this.wipe(err.message);
      else if (isSessionEnded(err)) this.desktop.sessionEnded(token);
    }
  }

  /** Remote wipe: keychain entries first (the data is then unreadable), then the files. */
  async wipe(reason: string): Promise<void> {
    await wipeDevice({ dataDir: this.options.dataDir, secrets: this.options.secrets, session: this.desktop, stopSync: () => this.worker.stop() }, reason);
  }
}
