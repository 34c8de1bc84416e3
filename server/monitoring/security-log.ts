/**
 * The backend's security log: one JSON line (pino) per security event on
 * stderr, or appended to the file CLINICIAN_SECURITY_LOG names, for a SIEM
 * to collect: refused access, failed sign-ins, session
 * ends, revocations, refused audit uploads, a device's cache found rolled
 * back (its rollback entry accepted), rate-limit hits. Fields are
 * identifiers only (clinician, device, route, code); never PHI, a patient
 * id, a token, a code, a body or a query string.
 */
import { pino, type Logger } from 'pino';

export type SecurityEventName =
  | 'access-refused'
  | 'sign-in-failed'
  | 'enrollment-failed'
  | 'session-ended'
  | 'session-refused'
  | 'revoked'
  | 'audit-upload-refused'
  | 'audit-rollback-detected'
  | 'rate-limited';

export interface SecurityEventFields {
  clinicianId?: string;
  deviceId?: string;
  /** A passkey's credential id (public; never its key or an assertion). */
  credentialId?: string;
  /** The route pattern (e.g. `/v1/fhir/:type/:id`), never the URL with its values. */
  route?: string;
  method?: string;
  /** The typed error code answered. */
  code?: string;
  ip?: string;
  /** What was revoked or ended: 'device', 'passkey', 'clinician', 'logout', 'idle'. */
  what?: string;
  /** How many refusals one aggregated line stands for. */
  count?: number;
}

const destination = process.env.CLINICIAN_SECURITY_LOG ? pino.destination({ dest: process.env.CLINICIAN_SECURITY_LOG, append: true, mkdir: true, sync: true }) : pino.destination(2);
let logger: Logger = pino({ base: { service: 'clinician-backend', log: 'security' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);

/** Replaces the destination (tests capture the lines). */
export function setSecurityLogger(next: Logger): void {
  logger = next;
}

const FIELDS: ReadonlyArray<keyof SecurityEventFields> = ['clinicianId', 'deviceId', 'credentialId', 'route', 'method', 'code', 'ip', 'what'];

/** Logs one event with the known identifier fields only (anything else a caller passes is dropped), each cut to 128 characters. */
export function securityEvent(event: SecurityEventName, fields: SecurityEventFields = {}): void {
  const line: Record<string, string | number> = { event };
  for (const key of FIELDS) {
    const value = fields[key];
    if (typeof value === 'string') line[key] = value.slice(0, 128);
  }
  if (Number.isSafeInteger(fields.count)) line.count = fields.count!;
  logger.warn(line, event);
}
