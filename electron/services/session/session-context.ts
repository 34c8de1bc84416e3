/**
 * What the sign-in modules (enrollment, online sign-in, offline unlock,
 * revocation) share: where the cache lives, the keychain, the backend, the
 * one session owner, and the hooks the app composes them with. Holds no
 * state of its own.
 */
import type { AuditNetwork } from '../../../shared/audit-entry';
import type { BackendClient } from '../backend-client';
import type { SecretStore } from '../secret-store';
import type { DesktopSession } from './desktop-session';

export interface SessionContext {
  dataDir: string;
  secrets: SecretStore;
  backend: BackendClient;
  rpId: string;
  /** Origins the renderer runs at; offline assertions must come from one of them. */
  origins: string[];
  clock: () => number;
  session: DesktopSession;
  /** Whether the device is connected to the hospital server now, for audit entries. */
  network(): AuditNetwork;
  /** Starts background sync once unlocked. */
  startSync(): void;
  /** Revocation: keychain entries first, then files; signed out with `reason`. */
  wipe(reason: string): Promise<void>;
}
