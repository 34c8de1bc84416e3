/**
 * The privacy console's HTTP contract (issue 13): the page's path, its
 * same-origin API routes and their bodies, shared by the backend routes
 * (server/console/) and the page (renderer/privacy-console/). Every API call
 * carries CONSOLE_REQUEST_HEADER (a custom header: a cross-site form or
 * image cannot send it, and a cross-origin fetch with it needs a preflight
 * the backend never grants). The session is an HttpOnly SameSite=Strict
 * cookie the page never sees. Never put a token, key or PHI in a path.
 */
import { z } from 'zod';
import { authenticationResponseSchema, clinicianIdSchema, enrollmentCodeSchema, registrationResponseSchema } from './backend-api';
import { fhirIdSchema } from './fhir-id';

/** The page (served with a trailing slash, so its relative ./assets/ resolve under it). */
export const CONSOLE_PAGE_PATH = '/console/';
export const CONSOLE_API = '/console/api';
export const CONSOLE_REQUEST_HEADER = 'x-clinician-console';

export const consolePaths = {
  signInOptions: `${CONSOLE_API}/sign-in/options`,
  signInVerify: `${CONSOLE_API}/sign-in/verify`,
  enrollOptions: `${CONSOLE_API}/enroll/options`,
  enrollVerify: `${CONSOLE_API}/enroll/verify`,
  signOut: `${CONSOLE_API}/sign-out`,
  me: `${CONSOLE_API}/me`,
  flags: `${CONSOLE_API}/flags`,
  acknowledge: (flagId: string) => `${CONSOLE_API}/flags/${encodeURIComponent(flagId)}/acknowledge`,
  accounting: (patientId: string) => `${CONSOLE_API}/patients/${encodeURIComponent(patientId)}/accounting`,
  accountingFhir: (patientId: string) => `${CONSOLE_API}/patients/${encodeURIComponent(patientId)}/accounting.fhir.json`,
  accountingCsv: (patientId: string) => `${CONSOLE_API}/patients/${encodeURIComponent(patientId)}/accounting.csv`,
  clinicianHistory: (clinicianId: string) => `${CONSOLE_API}/clinicians/${encodeURIComponent(clinicianId)}/history`,
} as const;

export const consoleSignInOptionsBody = z.strictObject({ clinicianId: clinicianIdSchema });
export const consoleEnrollOptionsBody = z.strictObject({ clinicianId: clinicianIdSchema, code: enrollmentCodeSchema });
export const consoleSignInVerifyBody = z.strictObject({ clinicianId: clinicianIdSchema, response: authenticationResponseSchema });
export const consoleEnrollVerifyBody = z.strictObject({ clinicianId: clinicianIdSchema, code: enrollmentCodeSchema, response: registrationResponseSchema });
export const acknowledgeBody = z.strictObject({ note: z.string().trim().min(1).max(2000) });
export const patientIdParam = fhirIdSchema;
export const clinicianIdParam = clinicianIdSchema;

export interface ConsoleMe {
  officer: { id: string; displayName: string };
  /** The backend's idle limit (organisation policy): the page signs out after this long without use. */
  idleMinutes: number;
}

/** One line of an accounting of disclosures or of a clinician's access history. */
export interface DisclosureRow {
  recorded: string;
  /** Who: the clinician id (or the command line's OS account). */
  who: string;
  patientId: string | null;
  /** C R U D E (BALP action). */
  action: string;
  /** What: the subtype code (read, search-type, update, export, break-glass, ...). */
  what: string;
  outcome: string;
  /** TREAT, or ETREAT while a break-the-glass grant was active. */
  purpose: string;
  /** online | offline | '' when not known. */
  network: string;
  /** The desktop the access came from. */
  deviceId: string;
  /** Who recorded it: the desktop's own chain, or the backend's disclosure chain. */
  recordedBy: 'device' | 'backend';
  /** Break-the-glass reason (code and free text), export reason; '' otherwise. */
  reason: string;
  /** Resources named (Type/id), at most a few. */
  resources: string[];
  /** The upload checks' marks: not-assigned, after-assignment, etreat-without-grant, rollback-detected, failed-access-overflow. */
  marks: string[];
}

export interface AccountingPage {
  patientId: string;
  rows: DisclosureRow[];
  /** True when older entries exist beyond this page (the exports hold them all). */
  more: boolean;
  /** Pass back as `?cursor=` for the next (older) page; null at the end. */
  next: string | null;
}

/** One page of open flags, newest first; `next` is passed back as `?cursor=` for older ones (null at the end). */
export interface FlagsPage<Flag> {
  flags: Flag[];
  more: boolean;
  next: string | null;
}

export interface ClinicianHistory {
  clinicianId: string;
  rows: DisclosureRow[];
  more: boolean;
}
