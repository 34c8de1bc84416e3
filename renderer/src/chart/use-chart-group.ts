/**
 * A chart group read when it is wanted (the Results tab's observations, the
 * Encounters tab's and the consultation dialog's encounters), once per `load`
 * (a load of the chart, or an opening of the dialog): a new load makes the
 * group read before it stale, and it is read again only when wanted again.
 * Answers null while the group of this load is being read: an older copy is
 * never shown as the current one, and a read still on its way when the load
 * changes is dropped. A read is not cancelled when it stops being wanted (it
 * is audited already: its answer is kept for this load); a failed read is
 * tried again the next time the group is wanted.
 */
import { useEffect, useRef, useState } from 'react';
import type { ChartGroup } from '../../../shared/contract';

export function useChartGroup(read: () => Promise<ChartGroup>, load: unknown, wanted: boolean): ChartGroup | Error | null {
  const [group, setGroup] = useState<{ of: unknown; value: ChartGroup | Error } | null>(null);
  const readRef = useRef(read);
  readRef.current = read;
  // The load whose read is on its way (undefined: none).
  const reading = useRef<unknown>(undefined);
  const current = group !== null && group.of === load ? group.value : null;
  const have = current !== null && !(current instanceof Error);
  useEffect(() => {
    if (!wanted || load === null || load === undefined || have || reading.current === load) return;
    reading.current = load;
    const settle = (value: ChartGroup | Error) => {
      if (reading.current !== load) return; // the load changed meanwhile: this answer is for an older one
      reading.current = undefined;
      setGroup({ of: load, value });
    };
    readRef.current().then(settle, (err: Error) => settle(err));
  }, [load, wanted, have]);
  return current;
}
