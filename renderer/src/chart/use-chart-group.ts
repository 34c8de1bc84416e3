/**
 * A chart group read when it is wanted (the Results tab's observations, the
 * Encounters tab's and the consultation dialog's encounters), once per `load`
 * (a load of the chart, or an opening of the dialog): a new load makes the
 * group read before it stale, and it is read again only when wanted again.
 * Answers null while the group of this load is being read: an older copy is
 * never shown as the current one, and a read still on its way when the load
 * changes, or when it is no longer wanted, is dropped.
 */
import { useEffect, useRef, useState } from 'react';
import type { ChartGroup } from '../../../shared/contract';

export function useChartGroup(read: () => Promise<ChartGroup>, load: unknown, wanted: boolean): ChartGroup | Error | null {
  const [group, setGroup] = useState<{ of: unknown; value: ChartGroup | Error } | null>(null);
  const readRef = useRef(read);
  readRef.current = read;
  const current = group !== null && group.of === load ? group.value : null;
  const have = current !== null;
  useEffect(() => {
    if (!wanted || load === null || load === undefined || have) return;
    let live = true;
    readRef.current().then(
      (value) => live && setGroup({ of: load, value }),
      (err: Error) => live && setGroup({ of: load, value: err }),
    );
    return () => {
      live = false;
    };
  }, [load, wanted, have]);
  return current;
}
