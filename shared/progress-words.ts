/**
 * The words a long first sync's or import's progress is shown in (the sync
 * status bar, its screen-reader text, the command line's stderr): counts
 * and an estimate of the time left, in plain English with thousands
 * separators. Pure; used by the renderer and by main's command line. Never
 * put a name, an id or anything else from a record in these words.
 */
import type { SyncProgress } from './contract';

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** "1 patient", "2,000 patients". */
export function counted(n: number, one: string, many: string): string {
  return `${count.format(n)} ${n === 1 ? one : many}`;
}

/** "less than a minute left", "about 6 min left", "about 1 h 20 min left". */
export function timeLeftWords(seconds: number): string {
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `about ${hours} h left` : `about ${hours} h ${rest} min left`;
}

/**
 * The whole sentence: "Downloading your patients: 412 patients, 203,000 of
 * about 1,000,000 records, about 6 min left"; without the server's estimate
 * "Downloading your patients: 412 patients, 203,000 records so far".
 */
export function syncProgressWords(p: SyncProgress): string {
  const patients = counted(p.patients, 'patient', 'patients');
  const records =
    p.resourcesTotal === null
      ? `${counted(p.resources, 'record', 'records')} so far`
      : `${count.format(p.resources)} of about ${counted(p.resourcesTotal, 'record', 'records')}`;
  const left = p.resourcesTotal !== null && p.secondsLeft !== null ? `, ${timeLeftWords(p.secondsLeft)}` : '';
  return `Downloading your patients: ${patients}, ${records}${left}`;
}

/** The short form for a narrow status bar: "Downloading 20%, about 6 min left"; "Downloading: 203,000 records". */
export function syncProgressShortWords(p: SyncProgress): string {
  if (p.resourcesTotal === null || p.resourcesTotal === 0) return `Downloading: ${counted(p.resources, 'record', 'records')}`;
  const percent = Math.min(99, Math.floor((p.resources / p.resourcesTotal) * 100));
  return `Downloading ${percent}%${p.secondsLeft === null ? '' : `, ${timeLeftWords(p.secondsLeft)}`}`;
}

/** The smallest form, for a window at 200 % zoom: "↓ 20%"; "↓ 2,000" without the estimate (the tooltip holds the sentence). */
export function syncProgressTinyWords(p: SyncProgress): string {
  if (p.resourcesTotal === null || p.resourcesTotal === 0) return `\u2193 ${count.format(p.resources)}`;
  return `\u2193 ${Math.min(99, Math.floor((p.resources / p.resourcesTotal) * 100))}%`;
}
