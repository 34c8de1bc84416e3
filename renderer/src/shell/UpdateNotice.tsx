/**
 * The update notice in the top bar: when a verified update is ready,
 * "Version X is ready" and a "Restart to update" button. During a
 * consultation the button is disabled, with "after your consultation" beside
 * it; with unsent changes a click first asks, in words, to confirm that they
 * are kept and sent after the restart, and only then installs with
 * acceptUnsynced. Nothing shows in any other state (off, idle, checking,
 * downloading, failed: the Settings screen says those). It never opens by
 * itself, never interrupts work with a modal, and never offers a restart
 * while a consultation runs. At 200 % zoom the words shorten ("Restart",
 * "after consultation"; the full words stay for screen readers) and the
 * reason gives way (ellipsis, full text in its title) before anything
 * overflows the top bar. Holds no PHI.
 */
import { useId, useState } from 'react';
import { api, call } from '../clinician';
import { ConfirmDialog } from '../ui/Dialog';
import { installErrorWords, useUpdateStatus } from './update-status';

export function UpdateNotice() {
  const { status, refresh } = useUpdateStatus();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [restarting, setRestarting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reasonId = useId();
  const textId = useId();

  if (!status || status.state !== 'ready' || !status.availableVersion) return null;
  const duringConsultation = status.waitingFor.includes('consultation');
  const unsent = status.waitingFor.includes('unsynced-changes');

  const install = (acceptUnsynced: boolean) => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    call(api().update.install({ acceptUnsynced })).then(
      (r) => {
        setBusy(false);
        setRestarting(r.installing);
        if (!r.installing) refresh();
      },
      (e: unknown) => {
        setBusy(false);
        setError(installErrorWords(e));
        refresh();
      },
    );
  };

  return (
    <div className="update-notice" data-testid="update-notice">
      <span className="update-notice-text" id={textId}>Version {status.availableVersion} is ready</span>
      {restarting ? (
        <span className="update-notice-reason" role="status">Restarting…</span>
      ) : (
        <button
          type="button"
          className="topbar-button update-button"
          disabled={duringConsultation || busy}
          aria-describedby={duringConsultation ? `${textId} ${reasonId}` : textId}
          aria-haspopup={unsent && !duringConsultation ? 'dialog' : undefined}
          onClick={() => (unsent ? setConfirming(true) : install(false))}
          data-testid="update-restart"
        >
          Restart<span className="update-wide"> to update</span>
        </button>
      )}
      {duringConsultation && !restarting && (
        <span className="update-notice-reason" title="The update waits: restart after your consultation">
          <span className="update-wide" id={reasonId} data-testid="update-reason">after your consultation</span>
          <span className="update-narrow" aria-hidden="true">after consultation</span>
        </span>
      )}
      {error && (
        <div className="update-popover" role="alert" data-testid="update-error">
          <p>{error}</p>
          <button type="button" className="secondary small" onClick={() => setError(null)}>Dismiss</button>
        </div>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Restart into version ${status.availableVersion}?`}
          confirmLabel="Restart now"
          onConfirm={() => install(true)}
          onCancel={() => setConfirming(false)}
          testId="update-confirm"
        >
          <p>Some of your changes are not sent yet.</p>
          <p>They are kept on this computer and sent after the restart. Nothing is lost.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
