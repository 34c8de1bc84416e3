/**
 * How old a reading is, next to it: "3 h ago", and for anything older than
 * 30 days an "old" marker (text and style) with the reading's date, so an
 * old value never passes for a current one.
 */
import { agoText, formatDate, isOld } from '../fhir-format';

export function ReadingAge({ when, now }: { when: unknown; now: Date }) {
  const old = isOld(when, now);
  return (
    <span className="reading-age">
      {old && <span className="old-marker" data-testid="old-marker">old · {formatDate(when)}</span>}
      <span className="ago">{agoText(when, now)}</span>
    </span>
  );
}
