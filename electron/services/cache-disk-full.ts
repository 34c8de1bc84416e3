/**
 * Recognises "the disk is full" wherever the cache writes (SQLite's
 * SQLITE_FULL, Node's ENOSPC and EDQUOT) and turns it into DISK_FULL, whose
 * message promises that nothing entered was lost. That promise holds because
 * every cache write is one SQLite transaction (a failed one rolls back whole,
 * what committed before stays) and the profile is written to a temp file and
 * renamed. Must never map anything else to DISK_FULL, and never be used
 * where a failed write can leave half of something behind.
 */
import { AppError } from '../../shared/app-error';

/**
 * SQLITE_IOERR_SHMSIZE: SQLite could not grow the -shm file (it writes a byte
 * into each new page of it); on a full disk that is where a WAL database
 * fails first, before SQLITE_FULL (found on a full tmpfs).
 */
const DISK_FULL_CODES = new Set(['SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE', 'ENOSPC', 'EDQUOT']);

export function isDiskFullError(err: unknown): boolean {
  if (err instanceof AppError) return err.code === 'DISK_FULL';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}

export function diskFullError(): AppError {
  return new AppError('DISK_FULL', 'The disk is full. Free space on this computer; nothing you entered was lost.');
}
