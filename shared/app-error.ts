/**
 * Typed errors shared by main, renderer and server: every failure that crosses
 * a boundary is a code plus a clinician-readable message.
 * Never put PHI (names, identifiers, dates, resource content) into a message:
 * messages end up in logs, crash reports and on screen. No zod here (the
 * shape's schema is ./app-error-schema.ts), so a small bundle that only
 * throws these errors (the store's checkpointer thread) stays small.
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'UNKNOWN_CALL',
  'FORBIDDEN_SENDER',
  'KEYCHAIN_UNAVAILABLE',
  'KEYCHAIN_LOCKED',
  'CACHE_KEY_MISSING',
  'CACHE_KEY_WRONG',
  'CACHE_CORRUPT',
  'CACHE_NOT_OPEN',
  'BUNDLE_INVALID',
  'NOT_FOUND',
  'AUDIT_CHAIN_BROKEN',
  'NOT_ENROLLED',
  'LOCKED',
  'PASSKEY_FAILED',
  'PRF_REQUIRED',
  'OFFLINE_TOO_LONG',
  'SIGN_IN_REFUSED',
  'DEVICE_REVOKED',
  'BACKEND_UNREACHABLE',
  'BACKEND_INVALID_RESPONSE',
  'CONFLICT_UNRESOLVED',
  'DISK_FULL',
  'CACHE_IN_USE',
  'CACHE_ROLLED_BACK',
  'FHIR_VERSION_UNSUPPORTED',
  'IMPORT_ID_COLLISION',
  'BACKEND_FAILED',
  'ALREADY_SENT',
  /** Consultations: no call service configured or reachable. */
  'CONSULT_UNAVAILABLE',
  /** Consultations: the backend refused (not invited, call ended, link used); discloses nothing more. */
  'CONSULT_REFUSED',
  /** Updates: turned off by policy, not configured, or nothing to install. */
  'UPDATE_UNAVAILABLE',
  /** Updates: the manifest or the package failed a signature or integrity check, or would go backwards; nothing was installed. */
  'UPDATE_REJECTED',
  /** Updates: not now (a consultation is running, or unsent changes were not acknowledged); nothing was installed. */
  'UPDATE_DEFERRED',
  /** Export and print: turned off by IT policy, or this format is not allowed; nothing was read or written. */
  'EXPORT_DISABLED',
  /** Break the glass: needs the hospital server (offline, or not configured); nothing was granted. */
  'GLASS_OFFLINE',
  /** Break the glass: the server refused (no such restricted match, a revoked clinician, an expired handle); discloses nothing more. */
  'GLASS_REFUSED',
  /** The cache store (electron/services/store): closed by a lock or quit; every call after it is refused, nothing was read or written. */
  'STORE_CLOSED',
  /** The cache store's worker stopped (crashed or was ended) during a call; that call's transaction did not commit. */
  'STORE_FAILED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One invalid value, named by its field in the call's schema, with the schema's clinician-readable message (never the value). */
export interface FieldError {
  field: string;
  message: string;
}

/** What crosses a boundary (IPC, the store's thread, HTTP); checked where it arrives by ./app-error-schema.ts. */
export interface AppErrorShape {
  code: ErrorCode;
  message: string;
  /** INVALID_INPUT only: each invalid field and why, at most 10. */
  fields?: FieldError[] | undefined;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly fields: FieldError[] | undefined;

  constructor(code: ErrorCode, message: string, fields?: FieldError[]) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.fields = fields;
  }

  toShape(): AppErrorShape {
    return this.fields ? { code: this.code, message: this.message, fields: this.fields } : { code: this.code, message: this.message };
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: AppErrorShape };

/** Turns anything thrown into a shape that is safe to show: unknown errors keep no text. */
export function toErrorShape(err: unknown): AppErrorShape {
  if (err instanceof AppError) return err.toShape();
  return { code: 'INTERNAL', message: 'An unexpected error occurred. The action was not completed.' };
}
