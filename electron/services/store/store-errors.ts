/**
 * The cache store's typed errors, and the one mapping from anything an
 * operation throws to a shape that may cross to main: AppErrors keep their
 * code and message, SQLite corruption and a full disk become CACHE_CORRUPT
 * and DISK_FULL, anything else becomes INTERNAL. Never let an exception's own
 * text cross: a SQLite message can quote a value, and values are PHI.
 */
import { AppError, toErrorShape, type AppErrorShape } from '../../../shared/app-error';
import { asCacheError } from '../cache-database';

export function storeClosedError(): AppError {
  return new AppError('STORE_CLOSED', 'The patient cache is locked. Unlock to continue.');
}

export function storeFailedError(): AppError {
  return new AppError('STORE_FAILED', 'The patient cache stopped working; the last action was not saved. Unlock again to continue.');
}

/** A message the store cannot take: not a request, an unknown call, arguments of the wrong shape. Names the call only. */
export function invalidStoreRequest(what: string): AppError {
  return new AppError('INVALID_INPUT', `The patient cache was asked something it does not answer (${what}).`);
}

export function storeErrorShape(err: unknown): AppErrorShape {
  return toErrorShape(asCacheError(err));
}
