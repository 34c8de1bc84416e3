/**
 * Who accessed this record on this computer: when, who (the clinician's name
 * where known, else their id), what they did in plain words (never
 * "search-type") and whether it succeeded.
 */
import type { AuditEntryView } from '../../../shared/contract';
import type { AuditOutcome, AuditSubtype } from '../../../shared/audit-entry';
import { formatDate } from '../fhir-format';
import { TableScroll } from './Section';

const ACTION_WORDS: Record<AuditSubtype, string> = {
  read: 'Opened chart',
  'search-type': 'Found in search',
  create: 'Added',
  update: 'Changed',
  delete: 'Removed',
  'conflict-keep-mine': 'Kept this computer’s version in a conflict',
  'conflict-take-theirs': 'Took the other version in a conflict',
  vread: 'Opened an earlier version',
  'rollback-detected': 'Found this computer’s record restored from an older copy',
  'consult-start': 'Started a video consultation',
  'consult-join': 'Joined a video consultation',
  'consult-code-confirmed': 'Confirmed the consultation’s security code',
  'consult-end': 'Left or ended a video consultation',
  export: 'Exported the summary',
  print: 'Printed or saved the summary as PDF',
  'break-glass': 'Broke the glass (emergency access)',
};

const OUTCOME_WORDS: Record<AuditOutcome, string> = {
  '0': 'Succeeded',
  '4': 'Failed',
  '8': 'Failed (serious)',
  '12': 'Failed (major)',
};

export function actionWords(subtype: AuditSubtype): string {
  return ACTION_WORDS[subtype] ?? 'Other action';
}

export function AccessLog({ entries }: { entries: AuditEntryView[] }) {
  if (entries.length === 0) return <p className="muted">No access recorded.</p>;
  return (
    <TableScroll label="Access log">
      <table className="rows" data-testid="access-table">
        <thead>
          <tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Outcome</th></tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq} data-testid="access-entry">
              <td>{formatDate(e.recordedAt, true)}</td>
              <td>{e.actorName ?? e.actor}</td>
              <td>{actionWords(e.subtype)}</td>
              <td className={e.outcome === '0' ? undefined : 'error'}>{OUTCOME_WORDS[e.outcome] ?? 'Failed'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
