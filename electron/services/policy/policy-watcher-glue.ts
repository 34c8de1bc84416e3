/**
 * Binds @vscode/policy-watcher (native; Windows registry and macOS managed
 * preferences) to the PolicyReader interface. Kept apart because it loads a
 * native module that does nothing on Linux (its Linux watcher is an empty
 * stub that never calls back); Linux uses linux-policy-file.ts. Cannot run
 * here: type-checked only, the parsing it relies on is tested in
 * os-policy-values. Reads once at start (changes apply at the next start).
 * Note: the library reads HKLM first and, only when HKLM has no value for a
 * policy, HKCU\Software\Policies (which only administrators may write by
 * default); there is no option to turn that off.
 */
import { createWatcher } from '@vscode/policy-watcher';
import { emptyReading, type PolicyReader, type PolicyReading } from './policy-reader';
import { osPolicySourceName, parseOsPolicyValues, watcherPolicies, type OsPolicyPlatform, type WatcherValue } from './os-policy-values';
import { MACOS_POLICY_DOMAIN, WINDOWS_POLICY_KEY } from './settings-catalogue';

const FIRST_READ_TIMEOUT_MS = 10_000;

export function osPolicyReader(platform: OsPolicyPlatform): PolicyReader {
  const key = platform === 'win32' ? WINDOWS_POLICY_KEY : MACOS_POLICY_DOMAIN;
  const source = osPolicySourceName(platform, key);
  return {
    kind: 'os-policy',
    source,
    read: () =>
      new Promise<PolicyReading>((resolve) => {
        let done = false;
        const finish = (reading: PolicyReading) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          setImmediate(() => watcher.dispose());
          resolve(reading);
        };
        const timer = setTimeout(() => finish(emptyReading(source, [`${source} could not be read in time; no machine policy is used.`])), FIRST_READ_TIMEOUT_MS);
        // The library calls back once with every policy's current value, then on each change.
        const watcher = createWatcher(
          platform === 'win32' ? 'ClinicianDesktop' : MACOS_POLICY_DOMAIN,
          watcherPolicies(),
          (update) => {
            const { values, invalid } = parseOsPolicyValues(platform, update as Record<string, WatcherValue>);
            const present = Object.keys(values).length + Object.keys(invalid).length > 0;
            finish({ values, invalid, source, present, problems: [] });
          },
          platform === 'win32' ? { registryPath: WINDOWS_POLICY_KEY } : {},
        );
      }),
  };
}
