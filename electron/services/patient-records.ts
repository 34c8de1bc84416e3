/**
 * The clinician's read paths into the cache: patient search, a patient's
 * chart, its observation history (the Results tab), its encounters (the
 * Encounters tab, the consultation dialog) and its access trail, each one
 * call of the cache store (./store/operations/patient-reads.ts), where the
 * read and its audit entries commit in one transaction. Holds no SQL. Never
 * return PHI that did not come through the store (which audits it).
 */
import { AppError } from '../../shared/app-error';
import type { AuditEntryView, Chart, ChartGroup, PatientSummary } from '../../shared/contract';
import type { CacheSession } from './cache-session';

export { CHART_ITEMS_PER_TYPE } from './store/operations/patient-reads';

/** Prefix search over names, MRN and birth date (./store/operations/patient-reads.ts); one audit entry per patient shown. */
export function searchPatients(session: CacheSession, query: string): Promise<{ patients: PatientSummary[]; truncated: boolean }> {
  return session.store.call('searchPatients', { query });
}

/** A patient's chart, audited as a read; a patient the cache does not hold is audited too (outcome 4) and is NOT_FOUND. */
export async function openChart(session: CacheSession, patientId: string): Promise<Chart> {
  const answer = await session.store.call('openChart', { patientId });
  if (!answer.found) throw new AppError('NOT_FOUND', 'That patient is not in this computer\'s cache.');
  // The store answers the chart as JSON text (one copy across threads); dispatch validates what this returns.
  return JSON.parse(answer.chartJson) as Chart;
}

/** The Results tab's read: the patient's newest observations and how many there are, audited as openChart is. */
export async function chartResults(session: CacheSession, patientId: string): Promise<ChartGroup> {
  return deferredGroup(await session.store.call('chartResults', { patientId }));
}

/** The Encounters tab's and the consultation dialog's read: the patient's newest encounters and how many there are, audited as openChart is. */
export async function chartEncounters(session: CacheSession, patientId: string): Promise<ChartGroup> {
  return deferredGroup(await session.store.call('chartEncounters', { patientId }));
}

function deferredGroup(answer: { found: true; groupJson: string } | { found: false }): ChartGroup {
  if (!answer.found) throw new AppError('NOT_FOUND', 'That patient is not in this computer\'s cache.');
  return JSON.parse(answer.groupJson) as ChartGroup;
}

/** Who accessed this patient's record on this device, newest first, with display names where this computer knows them. */
export function patientAccessTrail(session: CacheSession, patientId: string, limit: number): Promise<AuditEntryView[]> {
  return session.store.call('patientAccessTrail', { patientId, limit });
}
