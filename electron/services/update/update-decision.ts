/**
 * Whether a verified manifest's version is offered to this machine: updates
 * off by policy, a pinned version, no downgrade, staged rollout against this
 * machine's bucket. Pure: no clock, no disk, no network.
 *
 * Must never: offer a version at or below the running one, a version other
 * than the pinned one when IT pinned one, a prerelease (1.0.1-rc.1) that IT
 * did not pin exactly, or a staged release to a machine outside its percentage.
 */
import { eq, gt, prerelease, valid } from 'semver';

export interface UpdatePolicy {
  updatesEnabled: boolean;
  updateUrl: string | null;
  /** IT's pinned version: only exactly this version is ever offered. Null: the newest. */
  updateTargetVersion: string | null;
}

export type Decision =
  | { kind: 'offer'; version: string }
  /** Nothing to do, and nothing wrong (same version, not in this stage, a different version than the pinned one). */
  | { kind: 'none'; message: string | null }
  /** The offer must be refused and said so (a downgrade). */
  | { kind: 'refused'; message: string };

/** Why updates are off, or null when they may run. */
export function offReason(policy: UpdatePolicy, hasPublicKey: boolean): string | null {
  if (!policy.updatesEnabled) return 'Updates are turned off by your organisation.';
  if (!policy.updateUrl) return 'No update address is configured.';
  if (!hasPublicKey) return 'This build cannot verify updates, so updates are off.';
  if (policy.updateTargetVersion !== null && valid(policy.updateTargetVersion) !== policy.updateTargetVersion) {
    return 'The update version set by your organisation is not a valid version, so updates are off.';
  }
  return null;
}

/** `bucket` is this machine's place in [0, 100): a release staged at p% reaches machines with bucket < p. */
export function decideUpdate(input: { currentVersion: string; offeredVersion: string; stagingPercentage: number | undefined; policy: UpdatePolicy; bucket: number }): Decision {
  const { currentVersion, offeredVersion, policy } = input;
  if (eq(offeredVersion, currentVersion)) return { kind: 'none', message: null };
  if (!gt(offeredVersion, currentVersion)) {
    return { kind: 'refused', message: `The update server offered an older version (${offeredVersion}); it was refused.` };
  }
  if (policy.updateTargetVersion !== null && offeredVersion !== policy.updateTargetVersion) {
    return { kind: 'none', message: `Your organisation keeps this app at version ${policy.updateTargetVersion}.` };
  }
  // electron-updater's allowPrerelease is not consulted on this path: a test version reaches a machine only when IT pins it.
  if (prerelease(offeredVersion) !== null && offeredVersion !== policy.updateTargetVersion) {
    return { kind: 'none', message: `The update server offers a test version (${offeredVersion}); it is installed only if your organisation sets exactly that version.` };
  }
  if (input.stagingPercentage !== undefined && !(input.bucket < input.stagingPercentage)) {
    return { kind: 'none', message: null };
  }
  return { kind: 'offer', version: offeredVersion };
}
