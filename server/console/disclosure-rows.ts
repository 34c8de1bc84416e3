/**
 * Turns stored BALP AuditEvents (a device's uploaded entry or the backend's
 * own disclosure event) into the console's plain rows: who, when, what,
 * from which device, online or offline, under which purpose (ETREAT while
 * the glass was broken), the reason given, and the marks the upload checks
 * set (not assigned, after the assignment, ETREAT without a grant, rollback,
 * failed-access overflow). Reads only what the event
 * holds; never adds anything that was not audited.
 */
import type { DisclosureRow } from '../../shared/privacy-console-api';
import { BACKEND_ID_SYSTEM, CLINICIAN_ID_SYSTEM, OS_USER_ID_SYSTEM } from '../../shared/balp-audit-event';
import {
  AFTER_ASSIGNMENT_EXTENSION,
  EMERGENCY_WITHOUT_GRANT_EXTENSION,
  FAILED_UNASSIGNED_OVERFLOW_EXTENSION,
  NOT_ASSIGNED_EXTENSION,
  ROLLBACK_DETECTED_EXTENSION,
} from '../audit/audit-ledger';

/** The upload checks' marks, by extension url, as the console names them (in this order). */
const MARKS: ReadonlyArray<readonly [string, string]> = [
  [NOT_ASSIGNED_EXTENSION, 'not-assigned'],
  [AFTER_ASSIGNMENT_EXTENSION, 'after-assignment'],
  [EMERGENCY_WITHOUT_GRANT_EXTENSION, 'etreat-without-grant'],
  [ROLLBACK_DETECTED_EXTENSION, 'rollback-detected'],
  [FAILED_UNASSIGNED_OVERFLOW_EXTENSION, 'failed-access-overflow'],
];

type Json = Record<string, unknown>;

/** A reason code as exportFacts writes it (export, print; break the glass uses the same style). */
const REASON_URN = /^urn:clinician-desktop:[a-z-]+:reason:/;
/** At most this many resource references per row (a pull page can name hundreds). */
const RESOURCES_PER_ROW = 5;

const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

function decodeBase64Utf8(b64: string): string {
  try {
    return Buffer.from(b64, 'base64').toString('utf8');
  } catch {
    return '';
  }
}

export function disclosureRow(event: Json): DisclosureRow {
  const agents = asArray(event.agent);
  const user = agents.find((a) => a.requestor === true);
  const userId = (user?.who as Json | undefined)?.identifier as Json | undefined;
  const who = userId && (userId.system === CLINICIAN_ID_SYSTEM || userId.system === OS_USER_ID_SYSTEM) ? `${userId.system === OS_USER_ID_SYSTEM ? 'os:' : ''}${text(userId.value)}` : '';
  // The client agent's network address is the requesting desktop (urn:uuid:<device id>).
  const client = agents.find((a) => a !== user && text((a.network as Json | undefined)?.address).startsWith('urn:uuid:'));
  const deviceId = text((client?.network as Json | undefined)?.address).slice('urn:uuid:'.length);
  const observer = ((event.source as Json | undefined)?.observer as Json | undefined)?.identifier as Json | undefined;
  const entities = asArray(event.entity);
  const patient = entities.find((e) => (e.role as Json | undefined)?.code === '1');
  const patientRef = text((patient?.what as Json | undefined)?.reference);
  const refs = entities.map((e) => text((e.what as Json | undefined)?.reference)).filter((r) => r && r !== patientRef && !r.startsWith('#'));
  const reasonCodes = refs.filter((r) => REASON_URN.test(r)).map((r) => r.replace(REASON_URN, ''));
  const query = entities.find((e) => (e.role as Json | undefined)?.code === '24');
  const subtypes = asArray(event.subtype);
  const what = text(subtypes.at(-1)?.code);
  // Free text is a reason only for the events that carry one (export, print, break the glass); a search's text stays out.
  const freeText = ['export', 'print', 'break-glass'].includes(what) && query ? decodeBase64Utf8(text(query.query)) : '';
  const purpose = text(((asArray(event.purposeOfEvent)[0]?.coding as Json[] | undefined) ?? [])[0]?.code);
  const extensions = asArray(event.extension);
  const network = text(extensions.find((x) => x.url === 'urn:clinician-desktop:network')?.valueCode);
  const marks = MARKS.filter(([url]) => extensions.some((x) => x.url === url && x.valueBoolean === true)).map(([, name]) => name);
  return {
    recorded: text(event.recorded),
    who,
    patientId: patientRef.startsWith('Patient/') ? patientRef.slice('Patient/'.length) : null,
    action: text(event.action),
    what,
    outcome: text(event.outcome),
    purpose,
    network,
    deviceId,
    recordedBy: observer?.system === BACKEND_ID_SYSTEM ? 'backend' : 'device',
    reason: [reasonCodes.join(', '), freeText].filter(Boolean).join(': '),
    resources: refs.filter((r) => !r.startsWith('urn:')).slice(0, RESOURCES_PER_ROW),
    marks,
  };
}
