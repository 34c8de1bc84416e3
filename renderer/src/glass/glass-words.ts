/**
 * The words of break-the-glass on screen: the reasons a clinician may give,
 * the restricted match, the chart banner. Plain words, never a code, and
 * nothing about a restricted patient beyond that they exist.
 */
import { GLASS_REASONS } from '../../../shared/contract';

export type GlassReasonCode = (typeof GLASS_REASONS)[number];

export const GLASS_REASON_WORDS: Record<GlassReasonCode, string> = {
  'emergency-treatment': 'Emergency treatment: the patient needs care now',
  'patient-transferred': 'The patient was transferred to my care',
  'covering-colleague': 'I am covering for the assigned clinician',
  other: 'Other (say why)',
};

export const RESTRICTED_HINT = 'Not assigned to you. Enter to break the glass.';

/** HH:MM on a 24-hour clock, in this computer's time zone. */
export function clockTime(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

export function bannerWords(expiresAt: string): string {
  return `Emergency access until ${clockTime(expiresAt)} — every action is recorded and reviewed`;
}

export function endedWords(expiresAt: string): string {
  return `Emergency access ended at ${clockTime(expiresAt)}. This record leaves this computer when you close it (work you have not sent stays until it is sent).`;
}
