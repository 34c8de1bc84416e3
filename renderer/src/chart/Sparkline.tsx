/**
 * A small trend line of one vital sign over time (oldest left, newest
 * right; blood pressure draws systolic and diastolic), with a text
 * alternative that says what the line shows: first and last value, their
 * dates, and the direction. Decorative strokes use theme variables only.
 */
import type { Reading } from './vital-signs';
import { formatDate } from '../fhir-format';

const W = 96;
const H = 28;
const PAD = 3;

function direction(first: number, last: number): string {
  if (last > first * 1.05) return 'rising';
  if (last < first * 0.95) return 'falling';
  return 'steady';
}

export function Sparkline({ label, readings }: { label: string; readings: Reading[] }) {
  const points = [...readings].filter((r) => r.values.length > 0).sort((a, b) => a.time - b.time);
  if (points.length < 2) return <span className="sparkline-none muted">{points.length === 1 ? 'one reading' : ''}</span>;
  const all = points.flatMap((r) => r.values);
  const min = Math.min(...all);
  const max = Math.max(...all);
  const span = max - min || 1;
  const x = (i: number) => PAD + (i * (W - 2 * PAD)) / (points.length - 1);
  const y = (v: number) => H - PAD - ((v - min) * (H - 2 * PAD)) / span;
  const series = points[0]!.values.map((_, k) => points.map((r, i) => `${x(i).toFixed(1)},${y(r.values[k] ?? r.values[0]!).toFixed(1)}`).join(' '));
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const alt = `${label} trend over ${points.length} readings: ${first.text} on ${formatDate(first.when)} to ${last.text} on ${formatDate(last.when)}, ${direction(first.values[0]!, last.values[0]!)}`;
  return (
    <svg className="sparkline" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={alt} data-testid="sparkline">
      <title>{alt}</title>
      {series.map((pts, k) => (
        <polyline key={k} points={pts} fill="none" className={k === 0 ? 'spark-line' : 'spark-line spark-line-2'} />
      ))}
      <circle cx={x(points.length - 1)} cy={y(last.values[0]!)} r={2.5} className="spark-dot" />
    </svg>
  );
}
