/**
 * The reasons a clinician chooses from before an export or print, in the
 * words the dialog shows. The codes are the contract's (EXPORT_REASONS) and
 * go into the audit entry as URNs; the free text goes into its query. Never
 * put the free text anywhere but the audit entry (it may name the patient).
 */
import { EXPORT_REASONS, type ExportReason } from '../../../shared/contract';

const LABELS: Record<(typeof EXPORT_REASONS)[number], string> = {
  'continuity-of-care': 'Continuity of care',
  'patient-request': 'The patient asked for a copy',
  referral: 'Referral to another provider',
  'legal-request': 'Legal or regulatory request',
  other: 'Other (say why)',
};

export function exportReasonChoices(): Array<{ code: (typeof EXPORT_REASONS)[number]; label: string }> {
  return EXPORT_REASONS.map((code) => ({ code, label: LABELS[code] }));
}

/** The audit entry's query: the free text, or null when the clinician wrote none. */
export function reasonText(reason: ExportReason): string | null {
  const text = reason.text.trim();
  return text === '' ? null : text;
}
