/**
 * The rows of an accounting of disclosures or an access history: when, who,
 * which patient, what, the purpose (ETREAT marked as break the glass), from
 * which device, online or offline, who recorded it, the reason given, and
 * the backend's upload-check marks (not assigned, after the assignment,
 * ETREAT without a grant, rollback, failed-access overflow) as labels.
 */
import type { DisclosureRow } from '../../shared/privacy-console-api';

const WHAT: Record<string, string> = {
  read: 'Read',
  vread: 'Read (version)',
  'search-type': 'Search or list',
  create: 'Created',
  update: 'Changed',
  delete: 'Deleted',
  export: 'Exported',
  print: 'Printed',
  'break-glass': 'Broke the glass',
  'conflict-keep-mine': 'Change kept (conflict)',
  'conflict-take-theirs': 'Change taken (conflict)',
  'consult-start': 'Consultation started',
  'consult-join': 'Consultation joined',
  'consult-code-confirmed': 'Consultation code confirmed',
  'consult-end': 'Consultation ended',
  'rollback-detected': 'Cache rollback found',
};
const MARK: Record<string, string> = {
  'not-assigned': 'Not assigned',
  'after-assignment': 'After the assignment',
  'etreat-without-grant': 'ETREAT without a grant',
  'rollback-detected': 'Cache rolled back',
  'failed-access-overflow': 'Over the daily cap of failed attempts',
};
const OUTCOME: Record<string, string> = { '0': 'Success', '4': 'Refused', '8': 'Failed', '12': 'Failed (service)' };

const when = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
};

export function DisclosureTable({ rows, caption, showPatient }: { rows: DisclosureRow[]; caption: string; showPatient: boolean }) {
  if (rows.length === 0) return <p className="muted" data-testid="disclosure-empty">Nothing recorded.</p>;
  return (
    <div className="console-table-wrap">
      <table className="rows console-table" data-testid="disclosure-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            {showPatient && <th scope="col">Patient</th>}
            <th scope="col">What</th>
            <th scope="col">Purpose</th>
            <th scope="col">Device</th>
            <th scope="col">Network</th>
            <th scope="col">Recorded by</th>
            <th scope="col">Reason</th>
            <th scope="col">Marks</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={`${r.recordedBy}-${r.deviceId}-${r.recorded}-${i}`} data-testid="disclosure-row" data-what={r.what} data-purpose={r.purpose}>
              <td><time dateTime={r.recorded}>{when(r.recorded)}</time></td>
              <td>{r.who}</td>
              {showPatient && <td>{r.patientId ?? '—'}</td>}
              <td>
                {WHAT[r.what] ?? r.what}
                {r.outcome !== '0' && <> <span className="pill pill-bad">{OUTCOME[r.outcome] ?? r.outcome}</span></>}
              </td>
              <td>{r.purpose === 'ETREAT' ? <span className="pill pill-crit">Break the glass (ETREAT)</span> : r.purpose === 'HOPERAT' ? 'Privacy office (HOPERAT)' : r.purpose}</td>
              <td className="console-device" title={r.deviceId}>{r.deviceId.slice(0, 8)}</td>
              <td>{r.network === 'offline' ? <span className="pill pill-warn">Offline</span> : r.network === 'online' ? 'Online' : '—'}</td>
              <td>{r.recordedBy === 'device' ? 'Desktop' : 'Server'}</td>
              <td className="console-reason">{r.reason}</td>
              <td data-testid="disclosure-marks" data-marks={r.marks.join(' ')}>
                {r.marks.map((m) => (
                  <span key={m} className="pill pill-warn">{MARK[m] ?? m}</span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
