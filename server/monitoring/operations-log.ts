/**
 * The backend's operations log: one JSON line (pino) on stderr per event an
 * operator acts on (the database connection lost, a transaction retried, a
 * change the database refused). Fields are error codes (SQLSTATE, errno)
 * and counts only: never a database error's message (it can quote stored
 * values), PHI, a patient id, a token or a key.
 */
import { pino, type Logger } from 'pino';

export type OperationsEventName = 'database-connection-lost' | 'database-retry' | 'database-unavailable' | 'change-refused-by-database';

export interface OperationsEventFields {
  /** SQLSTATE or Node errno code of the error, if it has one. */
  code?: string;
  /** Which attempt of a retried operation failed (1 = the first). */
  attempt?: number;
  /** Changes in the push (for a refused change). */
  changes?: number;
}

let logger: Logger = pino({ base: { service: 'clinician-backend', log: 'operations' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));

/** Replaces the destination (tests capture the lines). */
export function setOperationsLogger(next: Logger): void {
  logger = next;
}

/** Logs one event with the known fields only; a code is cut to 16 characters of [A-Z0-9_]. */
export function operationsEvent(event: OperationsEventName, fields: OperationsEventFields = {}): void {
  const line: Record<string, string | number> = { event };
  if (typeof fields.code === 'string') line.code = fields.code.replace(/[^A-Za-z0-9_]/g, '').slice(0, 16);
  if (typeof fields.attempt === 'number') line.attempt = fields.attempt;
  if (typeof fields.changes === 'number') line.changes = fields.changes;
  logger.warn(line, event);
}
