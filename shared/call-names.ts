/**
 * The names of the renderer-to-main calls and their IPC channels, without
 * the schemas: the sandboxed preload needs only these, so it stays small and
 * free of zod. shared/contract.ts must declare exactly these names (checked by
 * the type system there).
 */
export const CALL_NAMES = [
  'app.status',
  'patients.search',
  'chart.open',
  'chart.results',
  'chart.encounters',
  'audit.forPatient',
  'auth.status',
  'auth.watch',
  'auth.enrollBegin',
  'auth.enrollFinish',
  'auth.signInBegin',
  'auth.signInFinish',
  'auth.lock',
  'auth.activity',
  'devices.list',
  'devices.revoke',
  'chart.recordVitals',
  'notes.saveDraft',
  'notes.sign',
  'notes.addendum',
  'problems.set',
  'sync.status',
  'sync.conflicts',
  'sync.resolveConflict',
  'sync.networkChanged',
  'sync.waiting',
  'changes.undo',
  'drafts.put',
  'drafts.list',
  'drafts.discard',
  'workspace.get',
  'workspace.set',
  'patients.worklist',
  'consult.start',
  'consult.invite',
  'consult.invited',
  'consult.connect',
  'consult.send',
  'consult.receive',
  'consult.leave',
  'settings.list',
  'update.status',
  'update.install',
  'export.options',
  'export.fhir',
  'print.prepare',
  'print.output',
  'glass.search',
  'glass.break',
  'glass.active',
] as const;

export type CallName = (typeof CALL_NAMES)[number];

/** The IPC channel that carries one call between preload and main. */
export function ipcChannelFor(name: CallName): string {
  return `clinician:${name}`;
}
