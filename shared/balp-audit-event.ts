/**
 * Turns one audit entry into a FHIR R4 AuditEvent following IHE Basic Audit
 * Log Patterns (BALP): RESTful type and subtype, the user, client and server
 * agents (their roles per kind of event), the patient entity, data entities,
 * the query for searches, and an OperationOutcome for a failure. The codes
 * are those of ../shared/standards/ihe-balp-auditevent.md.
 * Pure: used by the device to export, and by the backend to store what a
 * device uploaded and to record what it disclosed itself. Never add fields
 * that are not in the entry (nothing beyond what was audited), and never put
 * PHI into the failure's text (it is fixed per outcome).
 */
import {
  CONFLICT_SUBTYPES,
  CONFLICT_SUBTYPE_SYSTEM,
  CONSULT_SUBTYPES,
  EXPORT_SUBTYPES,
  OS_USER_ACTOR_PREFIX,
  ROLLBACK_SUBTYPE,
  type AuditAction,
  type AuditEntry,
  type AuditOutcome,
} from './audit-entry';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

/** Identifier systems of the agents and the observer: who.identifier never goes without one. */
export const CLINICIAN_ID_SYSTEM = 'urn:clinician-desktop:clinician';
export const OS_USER_ID_SYSTEM = 'urn:clinician-desktop:os-user';
export const APPLICATION_ID_SYSTEM = 'urn:clinician-desktop:application';
export const CUSTODIAN_ID_SYSTEM = 'urn:clinician-desktop:custodian';
export const DEVICE_ID_SYSTEM = 'urn:clinician-desktop:device';
export const BACKEND_ID_SYSTEM = 'urn:clinician-desktop:backend';

/** The id of the OperationOutcome a failure's event contains (its entity points at `#` + this). */
export const FAILURE_OUTCOME_ID = 'outcome';

export interface AuditEventContext {
  /** Identifies the application on the device (the client agent). */
  applicationName: string;
  /** Identifies what served or stored the data (the server agent): the device's cache, or the backend. */
  custodianName: string;
  /** The entry's chain hash, carried as an extension. */
  hash: string;
  /**
   * Who recorded the event, when it is not the device itself: the backend,
   * auditing what it disclosed, names itself (id) and its address (the
   * server agent's network address). Default: the device, whose cache was
   * both the server and the recorder.
   */
  observer?: { id: string; address: string };
}

type Coding = { system: string; code: string; display?: string };

function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function dcm(code: string, display: string): { coding: Coding[] } {
  return { coding: [{ system: DCM, code, display }] };
}

const SOURCE_ROLE = dcm('110153', 'Source Role ID');
const DESTINATION_ROLE = dcm('110152', 'Destination Role ID');

/**
 * BALP agent roles per action. Read: the client is the destination of the
 * data, the server its source; create, update and query: the other way round
 * (the client sends the data or the query); delete: the client is the
 * application, the server the custodian. The user receives (IRCP) what is
 * read or queried, and authors (AUT) what is created, changed or deleted.
 */
const ROLES: Record<AuditAction, { client: { coding: Coding[] }; server: { coding: Coding[] }; user: Coding }> = {
  R: { client: DESTINATION_ROLE, server: SOURCE_ROLE, user: { system: PARTICIPATION, code: 'IRCP', display: 'information recipient' } },
  E: { client: SOURCE_ROLE, server: DESTINATION_ROLE, user: { system: PARTICIPATION, code: 'IRCP', display: 'information recipient' } },
  C: { client: SOURCE_ROLE, server: DESTINATION_ROLE, user: { system: PARTICIPATION, code: 'AUT', display: 'author (originator)' } },
  U: { client: SOURCE_ROLE, server: DESTINATION_ROLE, user: { system: PARTICIPATION, code: 'AUT', display: 'author (originator)' } },
  D: {
    client: dcm('110150', 'Application'),
    server: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'custodian', display: 'Custodian' }] },
    user: { system: PARTICIPATION, code: 'AUT', display: 'author (originator)' },
  },
};

/** The entry's actor as an identifier: the command line's OS account, or a clinician id (which can never hold ':'). */
export function userIdentifier(actor: string): { system: string; value: string } {
  return actor.startsWith(OS_USER_ACTOR_PREFIX)
    ? { system: OS_USER_ID_SYSTEM, value: actor.slice(OS_USER_ACTOR_PREFIX.length) }
    : { system: CLINICIAN_ID_SYSTEM, value: actor };
}

/** BALP subtypes: the restful interaction; a conflict choice is an update, with our own code beside it saying which; a consultation step has our own code only. */
function subtypes(entry: AuditEntry): Coding[] {
  if (CONFLICT_SUBTYPES.has(entry.subtype)) return [{ system: RESTFUL_INTERACTION, code: 'update' }, { system: CONFLICT_SUBTYPE_SYSTEM, code: entry.subtype }];
  // A rollback found on the device, or a step of a consultation, is no restful interaction: our own code only.
  if (entry.subtype === ROLLBACK_SUBTYPE || CONSULT_SUBTYPES.has(entry.subtype) || EXPORT_SUBTYPES.has(entry.subtype) || entry.subtype === 'break-glass') return [{ system: CONFLICT_SUBTYPE_SYSTEM, code: entry.subtype }];
  return [{ system: RESTFUL_INTERACTION, code: entry.subtype }];
}

/**
 * The OperationOutcome of a failure, contained in the event and pointed at
 * by an entity, as FHIR's own AuditEvent error example does (BALP: a failure
 * is recorded as its own event with an OperationOutcome). The text is fixed
 * per outcome; it never names the record. A failed read or query reads as
 * not found: the same answer the clinician got, whether the record is
 * missing or not theirs to see.
 */
function failureOutcome(action: AuditAction, outcome: Exclude<AuditOutcome, '0'>): Record<string, unknown> {
  const reading = action === 'R' || action === 'E';
  const issue =
    outcome === '4'
      ? reading
        ? { severity: 'error', code: 'not-found', diagnostics: 'The record was not found, or is not one this user may access.' }
        : { severity: 'error', code: 'processing', diagnostics: 'The change was refused and not applied.' }
      : outcome === '8'
        ? { severity: 'error', code: 'exception', diagnostics: 'The request failed.' }
        : { severity: 'fatal', code: 'exception', diagnostics: 'The request failed and the service became unavailable.' };
  return { resourceType: 'OperationOutcome', id: FAILURE_OUTCOME_ID, issue: [issue] };
}

function fhirIdPart(text: string): string {
  return text.replace(/[^A-Za-z0-9\-.]/g, '-').slice(0, 36);
}

export function toBalpAuditEvent(entry: AuditEntry, ctx: AuditEventContext): Record<string, unknown> {
  const roles = ROLES[entry.action];
  const failed = entry.outcome !== '0';

  const entity: Array<Record<string, unknown>> = [];
  if (entry.patientId !== null) {
    entity.push({
      what: { reference: `Patient/${entry.patientId}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  for (const ref of entry.entities) {
    if (ref === `Patient/${entry.patientId}`) continue;
    entity.push({
      what: { reference: ref },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  if (entry.query !== null) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: base64Utf8(entry.query),
    });
  }
  if (failed) {
    entity.push({
      what: { reference: `#${FAILURE_OUTCOME_ID}` },
      type: { system: 'http://hl7.org/fhir/resource-types', code: 'OperationOutcome', display: 'OperationOutcome' },
    });
  }

  const deviceAddress = { address: `urn:uuid:${entry.deviceId}`, type: '5' };
  const observer = ctx.observer
    ? { identifier: { system: BACKEND_ID_SYSTEM, value: ctx.observer.id } }
    : { identifier: { system: DEVICE_ID_SYSTEM, value: entry.deviceId } };

  return {
    resourceType: 'AuditEvent',
    id: `${fhirIdPart(ctx.observer?.id ?? entry.deviceId)}-${entry.seq}`,
    ...(failed ? { contained: [failureOutcome(entry.action, entry.outcome as Exclude<AuditOutcome, '0'>)] } : {}),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: subtypes(entry),
    action: entry.action,
    recorded: entry.recordedAt,
    outcome: entry.outcome,
    purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: entry.purpose }] }],
    agent: [
      { type: { coding: [roles.user] }, who: { identifier: userIdentifier(entry.actor) }, requestor: true },
      {
        type: roles.client,
        who: { identifier: { system: APPLICATION_ID_SYSTEM, value: ctx.applicationName } },
        requestor: false,
        network: deviceAddress,
      },
      {
        type: roles.server,
        who: { identifier: { system: CUSTODIAN_ID_SYSTEM, value: ctx.custodianName } },
        requestor: false,
        network: ctx.observer ? { address: ctx.observer.address, type: '5' } : deviceAddress,
      },
    ],
    source: {
      observer,
      // 1 User Device (the desktop recording its own cache's accesses); 4 Application Server (the backend).
      type: [ctx.observer ? { system: SOURCE_TYPE, code: '4', display: 'Application Server' } : { system: SOURCE_TYPE, code: '1', display: 'User Device' }],
    },
    entity,
    extension: [
      { url: 'urn:clinician-desktop:audit-chain-hash', valueString: ctx.hash },
      // Whether the device was connected to the hospital server at the time (absent when not known).
      ...(entry.network ? [{ url: 'urn:clinician-desktop:network', valueCode: entry.network }] : []),
    ],
  };
}
