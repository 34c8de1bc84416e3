/**
 * A results table (laboratory results, and the other observations): test
 * by its short clinical name, value with unit and flag in text, the
 * reference range the record carries, and the date (with the time where
 * several results share a day, "old" past 30 days). Newest first.
 */
import { useState } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { dayKey, formatDate, observationDate, observationValue, parseFhirDate, shortLabel } from '../fhir-format';
import { FlagBadge } from './FlagBadge';
import { ReadingAge } from './ReadingAge';
import { rangeText, resultFlag } from './lab-flags';
import { TableScroll } from './Section';

const ROWS_SHOWN = 25;

export function LabResults({ results, now, testId, empty, label }: { results: FhirResource[]; now: Date; testId: string; empty: string; label: string }) {
  const [all, setAll] = useState(false);
  if (results.length === 0) return <p className="muted">{empty}</p>;
  const sorted = [...results].sort((a, b) => (parseFhirDate(observationDate(b))?.getTime() ?? 0) - (parseFhirDate(observationDate(a))?.getTime() ?? 0));
  const perDay = new Map<string, number>();
  for (const r of sorted) perDay.set(dayKey(observationDate(r)), (perDay.get(dayKey(observationDate(r))) ?? 0) + 1);
  const shown = all ? sorted : sorted.slice(0, ROWS_SHOWN);
  return (
    <>
      <TableScroll label={label}>
        <table className="rows results" data-testid={testId}>
          <thead>
            <tr>
              <th scope="col">Test</th>
              <th scope="col">Result</th>
              <th scope="col">Reference range</th>
              <th scope="col">Date</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => {
              const when = observationDate(r);
              const { flag } = resultFlag(r);
              const several = (perDay.get(dayKey(when)) ?? 0) > 1;
              return (
                <tr key={r.id} data-testid="result-row" data-flag={flag ?? undefined} className={flag && flag !== 'normal' ? 'value-flagged' : undefined}>
                  <th scope="row">{shortLabel(r.code)}</th>
                  <td>
                    <span className="value">{observationValue(r)}</span> <FlagBadge flag={flag} />
                  </td>
                  <td data-testid="result-range">{rangeText(r) || <span className="muted">none given</span>}</td>
                  <td>
                    {formatDate(when, several)} <ReadingAge when={when} now={now} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
      {sorted.length > shown.length && (
        <button type="button" className="link" onClick={() => setAll(true)}>
          Show all {sorted.length}
        </button>
      )}
    </>
  );
}
