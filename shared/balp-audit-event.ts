/**
 * Turns one audit entry into a FHIR R4 AuditEvent following IHE Basic Audit
 * Log Patterns (BALP): RESTful type and subtype, the user, client and server
 * agents, the patient entity, data entities, and the query for searches.
 * Pure: used by the device to export and by the backend to store. Never add
 * fields that are not in the entry (nothing beyond what was audited).
 */
import { CONFLICT_SUBTYPES, CONFLICT_SUBTYPE_SYSTEM, type AuditEntry } from './audit-entry';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

export interface AuditEventContext {
  /** Identifies the application on the device (the client agent). */
  applicationName: string;
  /** Identifies the cache that served or stored the data (the server agent). */
  custodianName: string;
  /** The entry's chain hash, carried as the AuditEvent id's basis. */
  hash: string;
}

function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function role(code: string, display: string) {
  return { coding: [{ system: DCM, code, display }] };
}

export function toBalpAuditEvent(entry: AuditEntry, ctx: AuditEventContext): Record<string, unknown> {
  const isRead = entry.action === 'R' || entry.action === 'E';
  const clientRole = entry.action === 'D' ? role('110150', 'Application') : isRead ? role('110152', 'Destination Role ID') : role('110153', 'Source Role ID');
  const serverRole =
    entry.action === 'D'
      ? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'custodian' }] }
      : isRead
        ? role('110153', 'Source Role ID')
        : role('110152', 'Destination Role ID');
  const userType = isRead ? 'IRCP' : 'AUT';

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

  return {
    resourceType: 'AuditEvent',
    id: `${entry.deviceId.slice(0, 36)}-${entry.seq}`,
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: CONFLICT_SUBTYPES.has(entry.subtype) ? CONFLICT_SUBTYPE_SYSTEM : 'http://hl7.org/fhir/restful-interaction', code: entry.subtype }],
    action: entry.action,
    recorded: entry.recordedAt,
    outcome: entry.outcome,
    purposeOfEvent: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: entry.purpose }] },
    ],
    agent: [
      {
        type: { coding: [{ system: PARTICIPATION, code: userType }] },
        who: { identifier: { value: entry.actor } },
        requestor: true,
      },
      { type: clientRole, who: { identifier: { value: ctx.applicationName } }, requestor: false, network: { address: `urn:uuid:${entry.deviceId}`, type: '5' } },
      { type: serverRole, who: { identifier: { value: ctx.custodianName } }, requestor: false, network: { address: `urn:uuid:${entry.deviceId}`, type: '5' } },
    ],
    source: { observer: { identifier: { value: entry.deviceId } } },
    entity,
    extension: [
      { url: 'urn:clinician-desktop:audit-chain-hash', valueString: ctx.hash },
      // Whether the device was connected to the hospital server at the time (absent when not known).
      ...(entry.network ? [{ url: 'urn:clinician-desktop:network', valueCode: entry.network }] : []),
    ],
  };
}
