/**
 * Linux machine policy: /etc/clinician-desktop/policy.json, accepted only
 * when a user cannot have written it: a regular file (opened with
 * O_NOFOLLOW, so not a symlink, and checked with fstat on the opened file,
 * so nothing is swapped between check and read), owned by root, not group-
 * or other-writable, in a root-owned folder that is not group- or
 * other-writable either. A refused or malformed file is reported in words
 * and NOTHING from it is used. Linux only: it refuses to run on another OS
 * (where ownership and mode are not what they seem: on Windows libuv reports
 * uid 0) or where O_NOFOLLOW is missing. Never read a file a user could have
 * written, never echo its contents (an unknown key is named only when it
 * looks like a setting name).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyReading, type PolicyReader, type PolicyReading } from './policy-reader';
import { settingDefinition } from './settings-catalogue';

export const LINUX_POLICY_FILE = '/etc/clinician-desktop/policy.json';
const MAX_BYTES = 1024 * 1024;
const GROUP_OR_OTHER_WRITABLE = 0o022;
const NAMEABLE_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,40}$/;

/** What the reader needs of the host; tests pass another platform or a missing O_NOFOLLOW. */
export interface LinuxPolicyHost {
  platform: NodeJS.Platform;
  noFollow: number | undefined;
}
const THIS_HOST: LinuxPolicyHost = { platform: process.platform, noFollow: constants.O_NOFOLLOW };

function refusedWhy(kind: string, uid: number, mode: number): string | null {
  if (uid !== 0) return `its ${kind} is not owned by root`;
  if ((mode & GROUP_OR_OTHER_WRITABLE) !== 0) return `its ${kind} is writable by group or others`;
  return null;
}

function readBounded(fd: number): Buffer | null {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(64 * 1024);
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) return Buffer.concat(chunks, total);
    total += n;
    if (total > MAX_BYTES) return null;
    chunks.push(chunk.subarray(0, n));
  }
}

/** Reads and checks the policy file now. Missing: not present, no problem. */
export function readLinuxPolicyFile(file: string = LINUX_POLICY_FILE, host: LinuxPolicyHost = THIS_HOST): PolicyReading {
  const refused = (why: string) => emptyReading(file, [`The policy file ${file} was refused: ${why}. Nothing in it is used.`]);
  if (host.platform !== 'linux') return refused('a policy file is read only on Linux');
  const noFollow = host.noFollow;
  if (noFollow === undefined) return refused('this system cannot refuse symbolic links (no O_NOFOLLOW)');

  let folder;
  try {
    folder = lstatSync(dirname(file));
  } catch {
    return emptyReading(file);
  }
  if (!folder.isDirectory()) return refused('its folder is not a plain folder (a symlink or a file)');
  const folderWhy = refusedWhy('folder', folder.uid, folder.mode);
  if (folderWhy) return refused(folderWhy);

  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | noFollow | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return emptyReading(file);
    if (code === 'ELOOP') return refused('it is a symbolic link');
    return refused('it cannot be opened');
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return refused('it is not a regular file');
    const why = refusedWhy('file', st.uid, st.mode);
    if (why) return refused(why.replace('its file', 'it'));
    const bytes = readBounded(fd);
    if (!bytes) return refused(`it is larger than ${MAX_BYTES} bytes`);
    text = bytes.toString('utf8');
  } finally {
    closeSync(fd);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refused('it is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refused('it must hold one JSON object');

  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (settingDefinition(key)?.from.includes('policy')) values[key] = value;
    else problems.push(`The policy file ${file} names ${NAMEABLE_KEY.test(key) ? `an unknown setting "${key}"` : 'an unknown setting'}; it is ignored.`);
  }
  return { values, source: file, present: true, problems };
}

export function linuxPolicyReader(file: string = LINUX_POLICY_FILE): PolicyReader {
  return { kind: 'linux-file', source: file, read: async () => readLinuxPolicyFile(file) };
}
