/**
 * The machine policy reader for this OS: Windows Group Policy and macOS
 * managed preferences through @vscode/policy-watcher, the root-owned policy
 * file on Linux ONLY, and on any other OS no machine policy at all (an empty
 * reading with a problem; a packaged app then does not start). Never a
 * user-writable source: never the Linux file path on another OS (on Windows
 * /etc/… is C:\etc\…, a folder any user can create).
 */
import { linuxPolicyReader } from './linux-policy-file';
import { emptyReading, type PolicyReader } from './policy-reader';
import { osPolicyReader } from './policy-watcher-glue';

export function machinePolicyReader(platform: NodeJS.Platform): PolicyReader {
  if (platform === 'win32' || platform === 'darwin') return osPolicyReader(platform);
  if (platform === 'linux') return linuxPolicyReader();
  const source = `no machine policy source on ${String(platform).slice(0, 20)}`;
  return { kind: 'none', source, read: async () => emptyReading(source, [`There is no machine policy source on ${String(platform).slice(0, 20)}; no machine policy is used.`]) };
}
