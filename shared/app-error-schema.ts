/**
 * The zod schema of an AppErrorShape (./app-error.ts), for a side that
 * receives one from another thread or process and must not trust it (main
 * reading the store worker's replies). Checks the shape only; never adds
 * text of its own to what it parses.
 */
import { z } from 'zod';
import { ERROR_CODES, type AppErrorShape, type FieldError } from './app-error';

export const fieldErrorSchema: z.ZodType<FieldError> = z.object({ field: z.string().max(40), message: z.string().max(200) });

export const appErrorSchema: z.ZodType<AppErrorShape> = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  /** INVALID_INPUT only: each invalid field and why, at most 10. */
  fields: z.array(fieldErrorSchema).max(10).optional(),
});
