/**
 * Every call of the store, by name, to the operation that answers it. A host
 * (./store-host.ts, in the worker) runs one
 * of these inside one transaction per call. The only table of what the
 * store can do: a name not here is refused before anything runs.
 */
import type { StoreArgs, StoreCallName, StoreResults } from './store-api';
import type { StoreTx } from './store-tx';
import { activeGrants, applyGlassRecords, checkGrants, recordsCursor, storeGrant } from './operations/glass-grant-rows';
import { exportablePatient, exportSummary, preparePrint } from './operations/export-reads';
import { auditEventsPage, cacheStats, integrityCheck, startAuditExport } from './operations/cache-maintenance-reads';
import { backupTo } from './operations/backup-copy';
import {
  appendAudit,
  auditCountUpTo,
  auditEntriesAfter,
  auditEntryAt,
  auditHead,
  chainHoldsEntry,
  continueAfterRollback,
  recordLostRange,
  signHead,
  verifyChain,
} from './operations/audit-calls';
import { importResources } from './operations/bundle-write';
import { applyPullPage, pullCursor } from './operations/pull-write';
// --- sync state
import { setSyncState, syncState } from './operations/sync-state-rows';
import { clearDraft, clearDraftsOfTarget, listDrafts, putDraft } from './operations/draft-rows';
import { getWorkspace, rememberClinicianName, setWorkspace } from './operations/workspace-rows';
import { chartEncounters, chartResults, openChart, patientAccessTrail, searchPatients } from './operations/patient-reads';
import { patientWorklist } from './operations/worklist-read';
// --- charting, outbox, conflicts, undo
import { recordChanges } from './operations/chart-changes';
import { undoChange } from './operations/change-undo-rows';
import { listConflicts, resolveConflict } from './operations/conflict-rows';
import {
  changesSince,
  heldCount,
  markSent,
  outboxSize,
  pendingChanges,
  refusedReasons,
  settlePush,
  stillQueued,
  syncCounts,
  unmarkSent,
} from './operations/outbox-rows';
import { listWaitingChanges } from './operations/waiting-list';

/** Calls a host runs outside a transaction: SQLite refuses VACUUM (and so VACUUM INTO) inside one. */
export const OUTSIDE_TRANSACTION: ReadonlySet<StoreCallName> = new Set<StoreCallName>(['backupTo']);

export type StoreOperation<N extends StoreCallName> = (tx: StoreTx, args: StoreArgs<N>) => StoreResults[N];

export const storeOperations: { readonly [N in StoreCallName]: StoreOperation<N> } = {
  // --- glass, export, maintenance, consult
  activeGrants,
  storeGrant,
  checkGrants,
  recordsCursor,
  applyGlassRecords,
  exportablePatient,
  preparePrint,
  exportSummary,
  cacheStats,
  startAuditExport,
  auditEventsPage,
  integrityCheck,
  backupTo,
  searchPatients,
  openChart,
  chartResults,
  chartEncounters,
  patientWorklist,
  patientAccessTrail,
  appendAudit,
  importResources,
  applyPullPage,
  pullCursor,
  // --- sync state
  syncState,
  setSyncState,
  putDraft,
  listDrafts,
  clearDraft,
  clearDraftsOfTarget,
  getWorkspace,
  setWorkspace,
  rememberClinicianName,
  auditHead,
  auditEntriesAfter,
  auditCountUpTo,
  auditEntryAt,
  chainHoldsEntry,
  continueAfterRollback,
  recordLostRange,
  verifyChain,
  signHead,
  // --- charting, outbox, conflicts, undo
  recordChanges,
  pendingChanges,
  markSent,
  unmarkSent,
  stillQueued,
  settlePush,
  changesSince,
  syncCounts,
  refusedReasons,
  heldCount,
  outboxSize,
  undoChange,
  listWaitingChanges,
  listConflicts,
  resolveConflict,
};
