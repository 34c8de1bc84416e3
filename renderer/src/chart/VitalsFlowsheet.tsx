/**
 * The vitals flowsheet: one row per vital sign with its trend sparkline,
 * one column per reading time, newest first. A column's heading gives the
 * date, and the time wherever several readings share that day; columns
 * older than 30 days are marked old. Each value carries its flag as text.
 */
import { useState } from 'react';
import { dayKey, formatDate, formatTime, isOld } from '../fhir-format';
import { FlagBadge } from './FlagBadge';
import { Sparkline } from './Sparkline';
import { VITAL_SIGNS, type Reading } from './vital-signs';
import { TableScroll } from './Section';

const COLUMNS_SHOWN = 6;

export function VitalsFlowsheet({ readings, now, adult, empty = 'No vital signs recorded.' }: { readings: Map<string, Reading[]>; now: Date; adult: boolean; empty?: string }) {
  const [all, setAll] = useState(false);
  const signs = VITAL_SIGNS.filter((s) => (readings.get(s.key)?.length ?? 0) > 0);
  if (signs.length === 0) return <p className="muted">{empty}</p>;

  const byTime = new Map<number, string>();
  for (const s of signs) for (const r of readings.get(s.key)!) if (!byTime.has(r.time)) byTime.set(r.time, r.when);
  const times = [...byTime.entries()].sort((a, b) => b[0] - a[0]);
  const perDay = new Map<string, number>();
  for (const [, when] of times) perDay.set(dayKey(when), (perDay.get(dayKey(when)) ?? 0) + 1);
  const shown = all ? times : times.slice(0, COLUMNS_SHOWN);

  return (
    <>
      {!adult && <p className="muted">Not flagged: adult ranges do not apply to this patient.</p>}
      <TableScroll label="Vital signs flowsheet">
        <table className="rows flowsheet" data-testid="flowsheet">
          <caption className="sr-only">Vital signs by reading time, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Vital sign</th>
              <th scope="col">Trend</th>
              {shown.map(([time, when]) => {
                const several = (perDay.get(dayKey(when)) ?? 0) > 1;
                const old = isOld(when, now);
                return (
                  <th scope="col" key={time} className={old ? 'col-old' : undefined} data-testid="flowsheet-time">
                    <span className="col-date">{formatDate(when)}</span>
                    {several && <span className="col-time">{formatTime(when)}</span>}
                    {old && <span className="old-marker">old</span>}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {signs.map((s) => {
              const list = readings.get(s.key)!;
              return (
                <tr key={s.key} data-testid="flowsheet-row" data-sign={s.key}>
                  <th scope="row">
                    {s.label}
                    {list[0]!.unit && <span className="row-unit"> ({list[0]!.unit})</span>}
                  </th>
                  <td><Sparkline label={s.label} readings={list} /></td>
                  {shown.map(([time]) => {
                    const r = list.find((x) => x.time === time);
                    return (
                      <td key={time} data-testid={r ? 'flowsheet-cell' : undefined} data-flag={r?.flag ?? undefined} className={r?.flag && r.flag !== 'normal' ? 'value-flagged' : undefined}>
                        {r ? (
                          <>
                            <span className="value">{r.unit === list[0]!.unit ? r.number : r.text}</span> <FlagBadge flag={r.flag} />
                          </>
                        ) : (
                          <span className="muted" aria-label="not recorded">·</span>
                        )}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
      {times.length > shown.length && (
        <button type="button" className="link" onClick={() => setAll(true)}>
          Show all {times.length} reading times
        </button>
      )}
    </>
  );
}
