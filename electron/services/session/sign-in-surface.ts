/**
 * The sign-in and lock calls the handler registry serves, as an interface:
 * the registry depends on this, not on the service that implements it, so
 * neither imports the other. Types only; no behaviour here.
 */
import type { AuthStatus, CallOutput } from '../../../shared/contract';
import type { AuthenticationResponse, RegistrationResponse } from '../../../shared/backend-api';
import type { SyncStatus } from '../sync-worker';
import type { LockReason } from '../lock-machine';
import type { ConsultService } from '../consult/consult-service';

export interface SignInSurface {
  status(): Promise<AuthStatus>;
  watch(version: number): Promise<void>;
  activity(): void;
  enrollBegin(clinicianId: string, code: string): Promise<CallOutput<'auth.enrollBegin'>>;
  enrollFinish(response: RegistrationResponse, prfOutput?: string): Promise<CallOutput<'auth.enrollFinish'>>;
  signInBegin(): Promise<CallOutput<'auth.signInBegin'>>;
  signInFinish(response: AuthenticationResponse, prfOutput?: string): Promise<CallOutput<'auth.signInFinish'>>;
  lockNow(reason: LockReason): void;
  devices(): Promise<CallOutput<'devices.list'>>;
  revokeDevice(deviceId: string): Promise<CallOutput<'devices.revoke'>>;
  nudgeSync(): void;
  networkChanged(online: boolean): void;
  syncState(): SyncStatus;
  /** Consultations (issue 11): absent where they are not wired. */
  readonly consult?: ConsultService;
}
