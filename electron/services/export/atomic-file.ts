/**
 * Writes an exported file where the clinician chose in the OS save dialog:
 * readable by the OS account only (0600), atomically (a temporary file in the
 * same folder, flushed, then renamed over the target), so a crash or a full
 * disk never leaves half a chart behind. Never write to a path the renderer
 * named (callers pass only the save dialog's answer), and never leave the
 * temporary file behind on failure.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import { AppError } from '../../../shared/app-error';

export const EXPORT_FILE_MODE = 0o600;

/** Errors in words: a full disk, or a place that cannot be written (never the path: it may hold a patient's name). */
function writeError(err: unknown): AppError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new AppError('DISK_FULL', 'The disk is full: the file was not saved.');
  if (code === 'ENAMETOOLONG') return new AppError('INVALID_INPUT', 'That file name is too long. Choose a shorter name.');
  return new AppError('INVALID_INPUT', 'That folder could not be written to. Choose another place.');
}

/** Writes `bytes` to `target` (absolute) atomically with mode 0600; returns once the file is in place. */
export function writeFileAtomically(target: string, bytes: Uint8Array): void {
  if (!isAbsolute(target)) throw new AppError('INVALID_INPUT', 'That folder could not be written to. Choose another place.');
  // Not derived from the chosen name: a name near the file system's limit must not fail for the temporary file.
  const temp = join(dirname(target), `.export-${randomBytes(6).toString('hex')}.partial`);
  let fd: number | null = null;
  try {
    // 'wx': never through an existing file or link at the temporary name.
    fd = openSync(temp, 'wx', EXPORT_FILE_MODE);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temp, target);
  } catch (err) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // closing after a failed write: nothing more to save
      }
    }
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing was created there (or it cannot be removed): the write's own error says what happened
    }
    throw err instanceof AppError ? err : writeError(err);
  }
}
