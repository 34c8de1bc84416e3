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
 * latestSeen except at an online sign-in, and never trust an unsigned value.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { AppError } from '../../../shared/app-error';
import type { DesktopSession } from './desktop-session';

export const DAY_MS = 86_400_000;

/** The time fields of a passkey record. */
export interface RecordedTimes {
  /** The backend's time at the last online sign-in or enrollment. */
  lastOnlineAt: number;
  /** The latest time this device has seen (never below lastOnlineAt). */
  latestSeenAt?: number | undefined;
  /** Ed25519 signature by the device key over (profile, clinician, lastOnlineAt, latestSeenAt). */
  timeSignature?: string | undefined;
}

function signedText(profileId: string, clinicianId: string, lastOnlineAt: number, latestSeenAt: number): Buffer {
  return Buffer.from(JSON.stringify(['clinician-desktop/latest-time-seen/v1', profileId, clinicianId, lastOnlineAt, latestSeenAt]), 'utf8');
}

/** Both times, signed by the device key. */
export function signTimes(profileId: string, clinicianId: string, lastOnlineAt: number, latestSeenAt: number, signingKey: KeyObject): Required<RecordedTimes> {
  const latest = Math.max(latestSeenAt, lastOnlineAt);
  const signature = sign(null, signedText(profileId, clinicianId, lastOnlineAt, latest), signingKey).toString('base64');
  return { lastOnlineAt, latestSeenAt: latest, timeSignature: signature };
}

/** Whether the stored times are the ones this device signed (for this profile and clinician). */
export function timesAreSigned(profileId: string, clinicianId: string, times: RecordedTimes, publicKey: KeyObject): boolean {
  if (times.latestSeenAt === undefined || times.timeSignature === undefined) return false;
  if (!Number.isFinite(times.lastOnlineAt) || !Number.isFinite(times.latestSeenAt) || times.latestSeenAt < times.lastOnlineAt) return false;
  try {
    return verify(null, signedText(profileId, clinicianId, times.lastOnlineAt, times.latestSeenAt), publicKey, Buffer.from(times.timeSignature, 'base64'));
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
