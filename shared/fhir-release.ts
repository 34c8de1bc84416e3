/**
 * Tells a FHIR R4 bundle from one of an older release (DSTU2, STU3) or of no
 * release at all, before anything is stored: the cache keeps R4 as it came,
 * and an older resource read as R4 loses data without a word (a DSTU2
 * `family` list is not an R4 name). Evidence, first found wins: a resource
 * type R4 does not define (DSTU2/STU3-only types named by release), a field
 * or a shape only DSTU2/STU3 have (among them STU3 backbone elements where R4
 * has a Reference, such as `requester: {agent, onBehalfOf}`), DSTU2's JSON `fhir_comments`, a profile
 * naming an older core definition or the DSTU2-only Argonaut guide, a server
 * path of an older release in a fullUrl or Bundle.link. Never refuses R4:
 * every rule is a name or shape R4 does not have (checked against the
 * published DSTU2 1.0.2, STU3 3.0.2 and R4 4.0.1 definitions). The evidence
 * names the entry index and the FHIR path, never a value (values are PHI).
 */

export type OlderRelease = 'DSTU2' | 'STU3' | 'DSTU2/STU3';

export interface ReleaseEvidence {
  /** The release the evidence points at; null when it is simply not R4 (an unknown resource type). */
  release: OlderRelease | null;
  /** The entry it was found in; null for the Bundle itself. */
  entry: number | null;
  /** What was found, in FHIR terms only (type and path), never a value. */
  what: string;
}

/** Every resource type of FHIR R4 (4.0.1). */
export const R4_RESOURCE_TYPES: ReadonlySet<string> = new Set(
  `Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic Binary
  BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
  ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
  CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
  CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement
  DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest
  EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
  FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
  ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
  Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense MedicationKnowledge
  MedicationRequest MedicationStatement MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication
  MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
  MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition
  MessageHeader MolecularSequence NamingSystem NutritionOrder Observation ObservationDefinition OperationDefinition
  OperationOutcome Organization OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
  PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
  RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
  RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition
  StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
  SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport
  TestScript ValueSet VerificationResult VisionPrescription`.split(/\s+/),
);

/** Resource types DSTU2 and/or STU3 define and R4 does not (renamed or removed in R4). */
const OLDER_RESOURCE_TYPES: Readonly<Record<string, OlderRelease>> = {
  Conformance: 'DSTU2',
  DeviceUseRequest: 'DSTU2',
  DiagnosticOrder: 'DSTU2',
  ImagingObjectSelection: 'DSTU2',
  MedicationOrder: 'DSTU2',
  Order: 'DSTU2',
  OrderResponse: 'DSTU2',
  ExpansionProfile: 'STU3',
  ImagingManifest: 'STU3',
  Sequence: 'STU3',
  ServiceDefinition: 'STU3',
  BodySite: 'DSTU2/STU3',
  DataElement: 'DSTU2/STU3',
  DeviceComponent: 'DSTU2/STU3',
  EligibilityRequest: 'DSTU2/STU3',
  EligibilityResponse: 'DSTU2/STU3',
  ProcedureRequest: 'DSTU2/STU3',
  ProcessRequest: 'DSTU2/STU3',
  ProcessResponse: 'DSTU2/STU3',
  ReferralRequest: 'DSTU2/STU3',
};

/**
 * Top-level fields of resource types R4 keeps that only DSTU2 and/or STU3
 * define (R4 renamed or removed them), for the types a patient cache holds.
 */
const OLDER_FIELDS: Readonly<Record<string, Readonly<Record<string, OlderRelease>>>> = {
  Patient: { careProvider: 'DSTU2', animal: 'DSTU2/STU3' },
  Practitioner: { practitionerRole: 'DSTU2' },
  Observation: { comments: 'DSTU2', comment: 'STU3', context: 'STU3', related: 'DSTU2/STU3' },
  Condition: { patient: 'DSTU2', dateRecorded: 'DSTU2', notes: 'DSTU2', assertedDate: 'STU3', context: 'STU3', abatementBoolean: 'DSTU2/STU3' },
  Encounter: { patient: 'DSTU2', indication: 'DSTU2', incomingReferral: 'DSTU2/STU3', reason: 'DSTU2/STU3' },
  Procedure: { notPerformed: 'DSTU2', reasonNotPerformed: 'DSTU2', notDone: 'STU3', notDoneReason: 'STU3', context: 'STU3' },
  MedicationStatement: { wasNotTaken: 'DSTU2', patient: 'DSTU2', reasonForUseCodeableConcept: 'DSTU2', taken: 'STU3', reasonNotTaken: 'DSTU2/STU3' },
  MedicationRequest: { context: 'STU3', definition: 'STU3' },
  MedicationAdministration: { wasNotGiven: 'DSTU2', patient: 'DSTU2', practitioner: 'DSTU2', notGiven: 'STU3', prescription: 'DSTU2/STU3' },
  MedicationDispense: { dispenser: 'DSTU2', notDone: 'STU3' },
  Immunization: { wasNotGiven: 'DSTU2', reported: 'DSTU2', notGiven: 'STU3', practitioner: 'STU3', date: 'DSTU2/STU3', explanation: 'DSTU2/STU3' },
  AllergyIntolerance: { substance: 'DSTU2', status: 'DSTU2', assertedDate: 'STU3' },
  DiagnosticReport: { request: 'DSTU2', context: 'STU3', codedDiagnosis: 'DSTU2/STU3', image: 'DSTU2/STU3' },
  CarePlan: { relatedPlan: 'DSTU2', support: 'DSTU2', definition: 'STU3', context: 'DSTU2/STU3' },
  DocumentReference: { indexed: 'DSTU2/STU3', class: 'DSTU2/STU3', created: 'DSTU2/STU3' },
  Goal: { targetDate: 'DSTU2', status: 'DSTU2/STU3' },
  FamilyMemberHistory: { notDone: 'STU3', gender: 'DSTU2/STU3' },
  CareTeam: { context: 'STU3' },
  Medication: { product: 'DSTU2', isOverTheCounter: 'STU3', isBrand: 'DSTU2/STU3' },
};

/** Fields that are a plain code before R4 and a CodeableConcept (an object) in R4. */
const CODE_BEFORE_R4: Readonly<Record<string, Readonly<Record<string, OlderRelease>>>> = {
  Condition: { clinicalStatus: 'DSTU2/STU3', verificationStatus: 'DSTU2/STU3' },
  AllergyIntolerance: { clinicalStatus: 'STU3', verificationStatus: 'STU3' },
  // DSTU2 Encounter.class is a code; STU3 and R4 make it a Coding.
  Encounter: { class: 'DSTU2' },
};

/**
 * Elements that are a backbone element in STU3 where R4 has a plain Reference
 * (STU3's `requester: {agent, onBehalfOf}`, DiagnosticReport's `performer:
 * [{role, actor}]`), or a backbone in both whose STU3 parts R4 renamed or
 * dropped (MedicationAdministration/MedicationDispense `performer.onBehalfOf`,
 * Procedure `performer.role`, which R4 calls `function`; Encounter
 * `diagnosis.role`, which R4 calls `use`). Read as R4 they are
 * references to nothing: the requester or performer would vanish without a
 * word. Each part listed is one an R4 Reference (reference, type, identifier,
 * display) or the R4 backbone does not have. Procedure.performer.onBehalfOf
 * and actor exist in R4 too, so only `role` counts there.
 */
const BACKBONE_PARTS_BEFORE_R4: Readonly<Record<string, Readonly<Record<string, { parts: readonly string[]; release: OlderRelease }>>>> = {
  MedicationRequest: { requester: { parts: ['agent', 'onBehalfOf'], release: 'STU3' } },
  DeviceRequest: { requester: { parts: ['agent', 'onBehalfOf'], release: 'STU3' } },
  CommunicationRequest: { requester: { parts: ['agent', 'onBehalfOf'], release: 'STU3' } },
  SupplyRequest: { requester: { parts: ['agent', 'onBehalfOf'], release: 'STU3' } },
  Task: { requester: { parts: ['agent', 'onBehalfOf'], release: 'STU3' } },
  DiagnosticReport: { performer: { parts: ['role', 'actor'], release: 'STU3' } },
  MedicationAdministration: { performer: { parts: ['onBehalfOf'], release: 'STU3' } },
  MedicationDispense: { performer: { parts: ['onBehalfOf'], release: 'STU3' } },
  Procedure: { performer: { parts: ['role'], release: 'STU3' } },
  Encounter: { diagnosis: { parts: ['role'], release: 'STU3' } },
};

/** Elements that are a list in R4 and one value (an object) in DSTU2. */
const ONE_BEFORE_R4: Readonly<Record<string, Readonly<Record<string, OlderRelease>>>> = {
  DiagnosticReport: { performer: 'DSTU2' },
  Immunization: { performer: 'DSTU2' },
};

/** Elements that are one value in R4 and a list before it (R4 keeps one author and moves the rest to `contributor`). */
const LIST_BEFORE_R4: Readonly<Record<string, Readonly<Record<string, OlderRelease>>>> = {
  CarePlan: { author: 'DSTU2/STU3' },
};

/** Where a resource holds a HumanName list in R4 (DSTU2 holds one name, not a list, in Practitioner and RelatedPerson). */
const NAME_LISTS = ['Patient', 'Practitioner', 'RelatedPerson', 'Person'];

/** Core definitions carry the FHIR version: 1.0.x is DSTU2, 3.0.x is STU3, 4.0.x is R4. */
const CORE_PROFILE = /^https?:\/\/hl7\.org\/fhir\/StructureDefinition\/[A-Za-z]+\|(\d+)\.(\d+)(?:\.\d+)?$/;
/** The Argonaut Data Query guide was written for DSTU2 only. */
const ARGONAUT_PROFILE = /^https?:\/\/fhir\.org\/guides\/argonaut\//;
/** Path segments that servers use for their older-release endpoints (Epic, Cerner, HAPI, SMART). */
const SERVER_PATH_RELEASE: Readonly<Record<string, OlderRelease>> = {
  dstu2: 'DSTU2',
  basedstu2: 'DSTU2',
  stu3: 'STU3',
  dstu3: 'STU3',
  basedstu3: 'STU3',
};

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

function profileRelease(profile: unknown): OlderRelease | 'other' | null {
  if (typeof profile !== 'string') return null;
  if (ARGONAUT_PROFILE.test(profile)) return 'DSTU2';
  const core = profile.match(CORE_PROFILE);
  if (!core) return null;
  const [major, minor] = [Number(core[1]), Number(core[2])];
  if (major === 4 && minor === 0) return null;
  if (major === 1 && minor === 0) return 'DSTU2';
  if (major === 3 && minor === 0) return 'STU3';
  return 'other';
}

function metaEvidence(resource: Json, entry: number | null, type: string): ReleaseEvidence | null {
  const profiles = obj(resource.meta)?.profile;
  for (const p of Array.isArray(profiles) ? profiles : []) {
    const release = profileRelease(p);
    if (release) return { release: release === 'other' ? null : release, entry, what: `${type}.meta.profile names a definition of another FHIR release` };
  }
  return null;
}

function urlRelease(url: unknown): OlderRelease | null {
  if (typeof url !== 'string' || url.startsWith('urn:')) return null;
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
  for (const segment of path.split('/')) {
    const release = SERVER_PATH_RELEASE[segment.toLowerCase()];
    if (release) return release;
  }
  return null;
}

function nameEvidence(type: string, resource: Json, entry: number): ReleaseEvidence | null {
  const hasFamilyList = (name: unknown) => Array.isArray(obj(name)?.family);
  if (NAME_LISTS.includes(type)) {
    const name = resource.name;
    if (obj(name) !== null && type !== 'Patient' && type !== 'Person') {
      return { release: 'DSTU2', entry, what: `${type}.name is one name, not a list` };
    }
    const names = Array.isArray(name) ? name : obj(name) ? [name] : [];
    if (names.some(hasFamilyList)) return { release: 'DSTU2', entry, what: `${type}.name.family is a list` };
  }
  if (type === 'Patient' && Array.isArray(resource.contact) && resource.contact.some((c) => hasFamilyList(obj(c)?.name))) {
    return { release: 'DSTU2', entry, what: 'Patient.contact.name.family is a list' };
  }
  return null;
}

/** The evidence one resource (or one it contains) gives; null when none. */
function resourceEvidence(resource: Json, entry: number): ReleaseEvidence | null {
  const type = resource.resourceType;
  if (typeof type !== 'string') return null; // not a resource: the bundle parse refuses it
  const older = OLDER_RESOURCE_TYPES[type];
  if (older) return { release: older, entry, what: `${type} is a resource type of FHIR ${older}` };
  if (!R4_RESOURCE_TYPES.has(type)) return { release: null, entry, what: 'its resource type is not one FHIR R4 defines' };
  for (const [field, release] of Object.entries(OLDER_FIELDS[type] ?? {})) {
    if (Object.hasOwn(resource, field)) return { release, entry, what: `${type}.${field} is a field of FHIR ${release}` };
  }
  for (const [field, release] of Object.entries(CODE_BEFORE_R4[type] ?? {})) {
    if (typeof resource[field] === 'string') return { release, entry, what: `${type}.${field} is a plain code, as in FHIR ${release}` };
  }
  for (const [field, release] of Object.entries(ONE_BEFORE_R4[type] ?? {})) {
    if (obj(resource[field]) !== null) return { release, entry, what: `${type}.${field} is one value, not a list, as in FHIR ${release}` };
  }
  for (const [field, release] of Object.entries(LIST_BEFORE_R4[type] ?? {})) {
    if (Array.isArray(resource[field])) return { release, entry, what: `${type}.${field} is a list, as in FHIR ${release}` };
  }
  for (const [field, { parts, release }] of Object.entries(BACKBONE_PARTS_BEFORE_R4[type] ?? {})) {
    const value = resource[field];
    const elements = Array.isArray(value) ? value.map(obj) : [obj(value)];
    const part = parts.find((p) => elements.some((e) => e !== null && Object.hasOwn(e, p)));
    if (part) return { release, entry, what: `${type}.${field}.${part} is a part of FHIR ${release}, not of R4` };
  }
  const names = nameEvidence(type, resource, entry);
  if (names) return names;
  const meta = metaEvidence(resource, entry, type);
  if (meta) return meta;
  if (Array.isArray(resource.contained)) {
    for (const inner of resource.contained) {
      const found = obj(inner) && resourceEvidence(inner as Json, entry);
      if (found) return { ...found, what: `a contained resource: ${found.what}` };
    }
  }
  return null;
}

/** Whether any object below `value` has DSTU2's JSON comment property (STU3 removed it). */
function hasFhirComments(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (!Array.isArray(v) && Object.hasOwn(v, 'fhir_comments')) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push(child);
  }
  return false;
}

/**
 * The first evidence that a parsed Bundle is not FHIR R4, or null. Reads the
 * Bundle's meta and links, then each entry (its fullUrl and its resource).
 */
export function notR4Evidence(bundle: Json): ReleaseEvidence | null {
  const bundleMeta = metaEvidence(bundle, null, 'Bundle');
  if (bundleMeta) return bundleMeta;
  if (Object.hasOwn(bundle, 'fhir_comments')) return { release: 'DSTU2', entry: null, what: 'it holds fhir_comments, a property of DSTU2 JSON' };
  for (const link of Array.isArray(bundle.link) ? bundle.link : []) {
    const release = urlRelease(obj(link)?.url);
    if (release) return { release, entry: null, what: `Bundle.link is on a FHIR ${release} server path` };
  }
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  for (let index = 0; index < entries.length; index++) {
    const entry = obj(entries[index]);
    if (!entry) continue;
    const release = urlRelease(entry.fullUrl);
    if (release) return { release, entry: index, what: `its fullUrl is on a FHIR ${release} server path` };
    const resource = obj(entry.resource);
    const found = resource && resourceEvidence(resource, index);
    if (found) return found;
    if (hasFhirComments(entry)) return { release: 'DSTU2', entry: index, what: 'it holds fhir_comments, a property of DSTU2 JSON' };
  }
  return null;
}

/** The clinician-readable refusal for `evidence`: which release, where, and that nothing was stored. */
export function notR4Message(evidence: ReleaseEvidence): string {
  const where = evidence.entry === null ? 'the bundle' : `entry ${evidence.entry}`;
  const head = evidence.release ? `This file is FHIR ${evidence.release}, not R4` : 'This file is not FHIR R4';
  return `${head}; it was not imported (${where}: ${evidence.what}). Nothing from it was stored.`;
}
