/**
 * The latest reading of each vital sign as a tile: value, flag in text, and
 * how old it is ("3 h ago"; "old" with its date past 30 days), so the
 * summary never presents an old reading as current.
 */
import { FlagBadge } from './FlagBadge';
import { ReadingAge } from './ReadingAge';
import { VITAL_SIGNS, type Reading } from './vital-signs';

export function LatestVitals({ readings, now }: { readings: Map<string, Reading[]>; now: Date }) {
  const tiles = VITAL_SIGNS.map((s) => ({ sign: s, latest: readings.get(s.key)?.[0] })).filter((t) => t.latest !== undefined);
  if (tiles.length === 0) return <p className="muted">No vital signs recorded.</p>;
  return (
    <ul className="vital-tiles">
      {tiles.map(({ sign, latest }) => {
        const r = latest!;
        const tone = r.flag === 'critical-high' || r.flag === 'critical-low' ? 'crit' : r.flag && r.flag !== 'normal' ? 'warn' : 'none';
        return (
          <li className={`vital-tile tone-${tone}`} key={sign.key} data-testid="vital" data-sign={sign.key} data-flag={r.flag ?? undefined}>
            <span className="vital-label">{sign.label}</span>
            <span className="vital-value">
              <span className="vital-number">{r.number}</span>
              {r.unit && <span className="vital-unit">{r.unit}</span>} <FlagBadge flag={r.flag} />
            </span>
            <ReadingAge when={r.when} now={now} />
          </li>
        );
      })}
    </ul>
  );
}
