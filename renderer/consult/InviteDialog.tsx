/**
 * Inviting someone to a consultation. The patient, an interpreter or a family
 * member gets a one-time link (shown here once, with a copy button and its
 * expiry: it is never stored, and closing the dialog forgets it); another
 * clinician is invited by their clinician id and joins from their own app
 * ("Consultations you are invited to"). Never logs or keeps the link.
 */
import { useId, useState, type FormEvent } from 'react';
import type { Invitee } from '../../shared/consult/signaling-messages';
import { api, call } from '../src/clinician';
import { formatTime } from '../src/fhir-format';
import { Dialog } from '../src/ui/Dialog';

type Kind = Invitee['kind'];
const KIND_WORDS: Record<Kind, string> = {
  patient: 'The patient',
  interpreter: 'An interpreter',
  family: 'A family member',
  clinician: 'Another clinician',
};

interface Props {
  callId: string;
  onClose(): void;
}

interface Issued {
  kind: Kind;
  link: string | null;
  expiresAt: string;
}

export function InviteDialog({ callId, onClose }: Props) {
  const [kind, setKind] = useState<Kind>('patient');
  const [clinicianId, setClinicianId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const clinicianFieldId = useId();
  const linkId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (kind === 'clinician' && !clinicianId.trim()) {
      setError("Enter the clinician's id (as they sign in with).");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const invitee: Invitee = kind === 'clinician' ? { kind, clinicianId: clinicianId.trim() } : { kind };
      const result = await call(api().consult.invite({ callId, invitee }));
      setIssued({ kind, link: result.link, expiresAt: result.expiresAt });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const copy = async (link: string) => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };

  return (
    <Dialog title="Invite to this consultation" onClose={onClose} testId="consult-invite-dialog">
      {issued ? (
        <div className="dialog-body consult-invite-issued">
          {issued.link ? (
            <>
              <label htmlFor={linkId}>One-time link for {KIND_WORDS[issued.kind].toLowerCase()}</label>
              <div className="consult-link-row">
                <input id={linkId} className="consult-link" readOnly value={issued.link} onFocus={(e) => e.currentTarget.select()} data-testid="consult-invite-link" />
                <button type="button" className="primary small" onClick={() => void copy(issued.link!)} data-autofocus data-testid="consult-copy-link">Copy link</button>
              </div>
              <p role="status" className="consult-copy-status">
                {copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Could not copy: select the link and press Ctrl+C.' : ''}
              </p>
              <p data-testid="consult-invite-expiry">
                Valid until <strong>{formatTime(issued.expiresAt)}</strong>, for one use only. This link is shown only once: send it now
                by a channel the hospital approves. Anyone with the link can join until it is used.
              </p>
            </>
          ) : (
            <p data-testid="consult-invite-clinician">
              Invited. They can join from “Consultations you are invited to” on their “My patients” screen until {formatTime(issued.expiresAt)}.
            </p>
          )}
          <div className="dialog-actions">
            <button type="button" className="secondary" onClick={onClose}>Done</button>
          </div>
        </div>
      ) : (
        <form className="dialog-body consult-invite-form" onSubmit={(e) => void submit(e)}>
          <fieldset>
            <legend>Who?</legend>
            {(Object.keys(KIND_WORDS) as Kind[]).map((k) => (
              <label key={k} className="consult-radio">
                <input type="radio" name="invitee" value={k} checked={kind === k} onChange={() => setKind(k)} data-testid={`consult-invite-${k}`} />
                {KIND_WORDS[k]}
              </label>
            ))}
          </fieldset>
          {kind === 'clinician' && (
            <p className="consult-field">
              <label htmlFor={clinicianFieldId}>Clinician id</label>
              <input id={clinicianFieldId} value={clinicianId} onChange={(e) => setClinicianId(e.target.value)} autoComplete="off" spellCheck={false} />
            </p>
          )}
          {error && <p className="error" role="alert">{error}</p>}
          <div className="dialog-actions">
            <button type="button" className="secondary" onClick={onClose}>Cancel</button>
            <button type="submit" className="primary small" disabled={busy} data-testid="consult-invite-submit">{kind === 'clinician' ? 'Invite' : 'Create link'}</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
