/**
 * A real modal dialog (the platform's <dialog> opened with showModal): focus
 * moves into it when it opens and returns to whatever had it when it closes;
 * Esc closes this dialog only (the key never reaches the chart behind it);
 * the page behind is inert while it is open. Every panel and confirmation
 * uses this. Never close on a stray click outside: a half-read dialog is not
 * dismissed by accident.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react';

interface DialogProps {
  title: string;
  onClose(): void;
  children: ReactNode;
  /** Extra class for sizing (e.g. 'dialog-wide'). */
  className?: string;
  testId?: string;
  /** A line under the title. */
  description?: ReactNode;
}

export function Dialog({ title, onClose, children, className, testId, description }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  const titleId = useId();
  const descriptionId = useId();

  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    // Focus the first control marked autoFocus, else the first focusable one, else the dialog.
    const first = dialog.querySelector<HTMLElement>('[data-autofocus], [autofocus]') ??
      dialog.querySelector<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])');
    (first ?? dialog).focus();
    const onCancel = (e: Event) => {
      e.preventDefault();
      closeRef.current();
    };
    // Esc is this dialog's: it must not also reach window listeners (the chart's Esc).
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        e.preventDefault();
        closeRef.current();
      }
    };
    dialog.addEventListener('cancel', onCancel);
    dialog.addEventListener('keydown', onKeyDown);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      dialog.removeEventListener('keydown', onKeyDown);
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      className={`dialog${className ? ` ${className}` : ''}`}
      aria-labelledby={titleId}
      aria-describedby={description ? descriptionId : undefined}
      data-testid={testId}
    >
      <header className="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="close" onClick={onClose}>Close</button>
      </header>
      {description && <p id={descriptionId} className="muted">{description}</p>}
      {children}
    </dialog>
  );
}

interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm(): void;
  onCancel(): void;
  testId?: string;
}

/** A yes/no question before a deliberate act (signing, a status change). Cancel has the focus: Enter alone never confirms. */
export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onCancel, testId }: ConfirmProps) {
  return (
    <Dialog title={title} onClose={onCancel} testId={testId}>
      <div className="dialog-body">{children}</div>
      <div className="dialog-actions">
        <button type="button" className="secondary" onClick={onCancel} data-autofocus>Cancel</button>
        <button type="button" className="primary small" onClick={onConfirm} data-testid={testId ? `${testId}-confirm` : undefined}>{confirmLabel}</button>
      </div>
    </Dialog>
  );
}
