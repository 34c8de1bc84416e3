/**
 * The machine policy reader for this OS: Windows Group Policy and macOS
 * managed preferences through @vscode/policy-watcher, the root-owned policy
 * file elsewhere (Linux). Never a user-writable source.
 */
import { linuxPolicyReader } from './linux-policy-file';
import type { PolicyReader } from './policy-reader';
import { osPolicyReader } from './policy-watcher-glue';

export function machinePolicyReader(platform: NodeJS.Platform): PolicyReader {
  return platform === 'win32' || platform === 'darwin' ? osPolicyReader(platform) : linuxPolicyReader();
}
