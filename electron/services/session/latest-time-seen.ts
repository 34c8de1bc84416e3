/**
 * Time that cannot be turned back, for the offline-days limit. The device
 * keeps, next to its passkey record in the keychain, the time of the last
 * online sign-in (the backend's own time, from its Date header) and the
 * latest time it has seen: the largest of every wall-clock reading at an
 * unlock (refused ones included), every server time at a sign-in, and, while
 * the app runs, the last of those plus the monotonic time elapsed since.
 * Offline days are latestSeen - lastOnline, with latestSeen = max(now,
 * stored latestSeen): setting the clock back never lowers it, so never
 * extends the limit. Both values are signed by the device's signing key
 * (which a PRF passkey wraps, so the keychain alone cannot forge them); a
 * record whose signature fails, or that has none, counts as past the limit.
 * An online sign-in resets both to the server's time, so a clock that was
 * once far ahead never locks a clinician out for good. Never lower
 * latestSeen except at an online sign-in, and never trust an unsigned field.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { AppError } from '../../../shared/app-error';
import type { CredentialRecord, Policy } from '../../../shared/backend-api';
import type { DesktopSession } from './desktop-session';

export const DAY_MS = 86_400_000;

/** The time fields of a passkey record. */
export interface RecordedTimes {
  /** The backend's time at the last online sign-in or enrollment. */
  lastOnlineAt: number;
  /** The latest time this device has seen (never below lastOnlineAt). */
  latestSeenAt?: number | undefined;
}

/**
 * Everything in the passkey record that decides whether an offline unlock is
 * allowed, and so is signed with the times: the clinician, the credential
 * public keys (and counters) the unlock checks against, and the
 * organisation's policy (offline days, idle minutes, PRF required). A
 * keychain writer who edits any of them, adds a credential of their own, or
 * swaps the policy makes the record unconfirmed.
 */
export interface SignedRecord extends RecordedTimes {
  clinicianId: string;
  displayName: string;
  credentials: readonly CredentialRecord[];
  policy: Policy;
  /** Ed25519 signature by the device key over the profile and every field above (format v2). */
  recordSignature?: string | undefined;
}

/** JSON with object keys sorted and undefined members dropped, so the signed text does not depend on key order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]);
  }
  return value;
}

function signedText(profileId: string, record: SignedRecord, lastOnlineAt: number, latestSeenAt: number): Buffer {
  const fields = [record.clinicianId, record.displayName, canonical(record.credentials), canonical(record.policy), lastOnlineAt, latestSeenAt];
  return Buffer.from(JSON.stringify(['clinician-desktop/passkey-record/v2', profileId, ...fields]), 'utf8');
}

/** The record with both times set and everything signed by the device key (the latest time is never below the last online one). */
export function signRecord<T extends SignedRecord>(profileId: string, record: T, lastOnlineAt: number, latestSeenAt: number, signingKey: KeyObject): T & Required<Pick<SignedRecord, 'latestSeenAt' | 'recordSignature'>> {
  const latest = Math.max(latestSeenAt, lastOnlineAt);
  const recordSignature = sign(null, signedText(profileId, record, lastOnlineAt, latest), signingKey).toString('base64');
  return { ...record, lastOnlineAt, latestSeenAt: latest, recordSignature };
}

/**
 * Whether the stored record is the one this device signed (for this
 * profile), every field that decides an offline unlock included. A record
 * of the previous format (only the times signed, as `timeSignature`) has no
 * `recordSignature` and so is not: it needs one online sign-in.
 */
export function recordIsSigned(profileId: string, record: SignedRecord, publicKey: KeyObject): boolean {
  if (record.latestSeenAt === undefined || record.recordSignature === undefined) return false;
  if (!Number.isFinite(record.lastOnlineAt) || !Number.isFinite(record.latestSeenAt) || record.latestSeenAt < record.lastOnlineAt) return false;
  try {
    return verify(null, signedText(profileId, record, record.lastOnlineAt, record.latestSeenAt), publicKey, Buffer.from(record.recordSignature, 'base64'));
  } catch {
    return false;
  }
}

export function offlineTooLong(days: number): AppError {
  return new AppError('OFFLINE_TOO_LONG', `This computer has been offline for more than ${days} days. Connect to the hospital network to sign in.`);
}

export function offlineUnconfirmed(): AppError {
  return new AppError('OFFLINE_TOO_LONG', 'This computer cannot confirm how long it has been offline. Connect to the hospital network to sign in.');
}

/** Whether `latest` is past the offline-days limit counted from the last online sign-in. */
export function pastOfflineLimit(times: RecordedTimes, latest: number, offlineDays: number): boolean {
  return latest - times.lastOnlineAt > offlineDays * DAY_MS;
}

/**
 * What the running app itself vouches for: the last recorded latest time
 * plus the monotonic time elapsed since it was recorded (a clock set back
 * while the app runs does not hide the time that passed). Lost when the app
 * quits; the recorded value is what survives.
 */
export class TimeFloor {
  private anchor: { wall: number; mono: number } | null = null;

  constructor(private readonly monotonic: () => number) {}

  /** The latest time seen as of now: max(now, stored latestSeen, last recorded + monotonic elapsed). */
  latest(now: number, times: RecordedTimes): number {
    let latest = Math.max(now, times.latestSeenAt ?? times.lastOnlineAt, times.lastOnlineAt);
    if (this.anchor) latest = Math.max(latest, this.anchor.wall + Math.max(0, this.monotonic() - this.anchor.mono));
    return latest;
  }

  /** A latest time was recorded (signed, stored), or reset by an online sign-in. */
  recorded(wall: number): void {
    this.anchor = { wall, mono: this.monotonic() };
  }
}

const floors = new WeakMap<DesktopSession, TimeFloor>();

/** The one time floor of this app's session (shared by sign-in and enrollment), on the lock's monotonic clock. */
export function timeFloorOf(session: DesktopSession): TimeFloor {
  let floor = floors.get(session);
  if (!floor) {
    floor = new TimeFloor(session.lock.monotonic);
    floors.set(session, floor);
  }
  return floor;
}
