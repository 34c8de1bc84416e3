/**
 * The renderer's only door to data: `window.clinician`, exposed by the
 * preload (or the test harness) from the shared contract. `call` unwraps a
 * result into a value or a ClinicianError carrying the typed code. Never
 * reach for anything else (no fetch to a backend, no storage of PHI).
 */
import type { AppErrorShape, FieldError, Result } from '../../shared/app-error';
import type { ClinicianApi } from '../../shared/contract';

declare global {
  interface Window {
    readonly clinician: ClinicianApi;
  }
}

export class ClinicianError extends Error {
  readonly code: string;
  /** INVALID_INPUT: each invalid field with the schema's message (shown at the field). */
  readonly fields: FieldError[];
  constructor(shape: AppErrorShape) {
    super(shape.message);
    this.code = shape.code;
    this.fields = shape.fields ?? [];
  }
}

export async function call<T>(pending: Promise<Result<T>>): Promise<T> {
  const result = await pending;
  if (!result.ok) throw new ClinicianError(result.error);
  return result.value;
}

export function api(): ClinicianApi {
  return window.clinician;
}
