/**
 * The update notice in the top bar: when a verified update is ready,
 * "Version X is ready" and a "Restart to update" button. During a
 * consultation the button waits (aria-disabled: still reached with Tab, a
 * press does nothing), with "after your consultation" under the version;
 * with unsent changes a click first asks, in words, to confirm that they
 * are kept and sent after the restart, and only then installs with
 * acceptUnsynced (also when main refuses because changes became unsent
 * since the last look: the question, never a "confirm" with no button). A
 * confirmation still open when a consultation starts closes. Nothing shows
 * in any other state (off, idle, checking, downloading, failed: the Settings
 * screen says those), and the top bar shows it only on the workspace (never
 * on the lock or sign-in screen: TopBar; nor while main says 'locked'). It never opens by itself, never
 * interrupts work with a modal, and never offers a restart while a
 * consultation runs. The focus never drops to <body>: it stays on the button
 * through an install, a refusal and Dismiss, and moves to "Restarting…".
 * At 200 % zoom the words shorten ("Update ready", "Restart", "after
 * consultation"; the full words stay for screen readers). Holds no PHI.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { api, call, ClinicianError } from '../clinician';
import { ConfirmDialog } from '../ui/Dialog';
import { installErrorWords, useUpdateStatus } from './update-status';

export function UpdateNotice() {
  const { status, refresh } = useUpdateStatus();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [restarting, setRestarting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const restartingRef = useRef<HTMLSpanElement>(null);
  const reasonId = useId();
  const textId = useId();
  const duringConsultation = status?.waitingFor.includes('consultation') ?? false;

  // A consultation began while the question was open: the question goes (the button now says why it waits).
  useEffect(() => {
    if (duringConsultation) setConfirming(false);
  }, [duringConsultation]);

  // The button gave way to "Restarting…": the focus follows instead of dropping to <body>.
  useEffect(() => {
    if (restarting && (document.activeElement === null || document.activeElement === document.body)) restartingRef.current?.focus();
  }, [restarting]);

  // Main says 'locked' while the app is locked: no restart for whoever stands at a locked computer.
  if (!status || status.state !== 'ready' || !status.availableVersion || status.waitingFor.includes('locked')) return null;
  const unsent = status.waitingFor.includes('unsynced-changes');
  const waiting = duringConsultation || busy;
  const version = status.availableVersion;

  const install = (acceptUnsynced: boolean) => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    call(api().update.install({ acceptUnsynced })).then(
      (r) => {
        setBusy(false);
        setRestarting(r.installing);
        if (!r.installing) void refresh();
      },
      (e: unknown) => {
        void refresh().then((next) => {
          setBusy(false);
          const askInstead =
            !acceptUnsynced && e instanceof ClinicianError && e.code === 'UPDATE_DEFERRED' && next !== null &&
            next.waitingFor.includes('unsynced-changes') && !next.waitingFor.includes('consultation');
          if (askInstead) setConfirming(true);
          else setError(installErrorWords(e));
        });
      },
    );
  };

  return (
    <div className="update-notice" data-testid="update-notice">
      <span className="update-notice-words">
        <span className="update-notice-text" id={textId} title={`Version ${version} is ready to install`}>Version {version} is ready</span>
        <span className="update-cue" aria-hidden="true" title={`Version ${version} is ready to install`}>Update ready</span>
        {duringConsultation && !restarting && (
          <span className="update-notice-reason" title="The update waits: restart after your consultation">
            <span className="update-wide" id={reasonId} data-testid="update-reason">after your consultation</span>
            <span className="update-narrow" aria-hidden="true">after consultation</span>
          </span>
        )}
      </span>
      {restarting ? (
        <span className="update-notice-reason update-restarting" role="status" tabIndex={-1} ref={restartingRef}>Restarting…</span>
      ) : (
        <button
          type="button"
          ref={buttonRef}
          className="topbar-button update-button"
          aria-disabled={waiting || undefined}
          aria-describedby={duringConsultation ? `${textId} ${reasonId}` : textId}
          aria-haspopup={unsent && !duringConsultation ? 'dialog' : undefined}
          onClick={() => {
            if (waiting) return;
            if (unsent) setConfirming(true);
            else install(false);
          }}
          data-testid="update-restart"
        >
          Restart<span className="update-wide"> to update</span>
        </button>
      )}
      {error && (
        <div className="update-popover" role="alert" data-testid="update-error">
          <p>{error}</p>
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              setError(null);
              buttonRef.current?.focus();
            }}
          >
            Dismiss
          </button>
        </div>
      )}
      {confirming && !duringConsultation && (
        <ConfirmDialog
          title={`Restart into version ${version}?`}
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
