/**
 * The flag next to a value: "H", "L", "!! H" (critical), "A" (abnormal),
 * always as text with its meaning for screen readers, never colour alone.
 * Renders nothing for a normal or unflagged value.
 */
import type { ResultFlag } from './lab-flags';

const FLAGS: Record<Exclude<ResultFlag, 'normal'>, { shown: string; words: string; tone: 'crit' | 'warn' }> = {
  high: { shown: 'H', words: 'high', tone: 'warn' },
  low: { shown: 'L', words: 'low', tone: 'warn' },
  'critical-high': { shown: '!! H', words: 'critical high', tone: 'crit' },
  'critical-low': { shown: '!! L', words: 'critical low', tone: 'crit' },
  abnormal: { shown: 'A', words: 'abnormal', tone: 'warn' },
  critical: { shown: '!! A', words: 'critical', tone: 'crit' },
};

export function FlagBadge({ flag }: { flag: ResultFlag | null }) {
  if (flag === null || flag === 'normal') return null;
  const f = FLAGS[flag];
  return (
    <span className={`flag flag-${f.tone}`} data-flag={flag} title={f.words}>
      <span aria-hidden="true">{f.shown}</span>
      <span className="sr-only">({f.words})</span>
    </span>
  );
}
