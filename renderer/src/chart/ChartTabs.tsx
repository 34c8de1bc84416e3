/**
 * The chart's tab strip: a real ARIA tablist with a roving tabindex (only
 * the selected tab is in the Tab order), arrow keys, Home and End moving
 * between tabs and selecting them.
 */
import { useRef, type KeyboardEvent } from 'react';
import type { ChartTab } from '../../../shared/contract';

export const TAB_LABELS: Record<ChartTab, string> = {
  summary: 'Summary',
  results: 'Results',
  notes: 'Notes',
  write: 'Write',
  encounters: 'Encounters',
  access: 'Access',
};

export function tabId(tab: ChartTab): string {
  return `chart-tab-${tab}`;
}

export function panelId(tab: ChartTab): string {
  return `chart-panel-${tab}`;
}

export function ChartTabs({ tabs, active, onSelect }: { tabs: readonly ChartTab[]; active: ChartTab; onSelect(tab: ChartTab): void }) {
  const refs = useRef(new Map<ChartTab, HTMLButtonElement>());
  const move = (to: ChartTab) => {
    onSelect(to);
    refs.current.get(to)?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    const i = tabs.indexOf(active);
    const next =
      e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : e.key === 'ArrowLeft' ? tabs[(i - 1 + tabs.length) % tabs.length] : e.key === 'Home' ? tabs[0] : e.key === 'End' ? tabs[tabs.length - 1] : undefined;
    if (next === undefined) return;
    e.preventDefault();
    move(next);
  };
  return (
    <div role="tablist" aria-label="Chart sections" className="chart-tabs">
      {tabs.map((t) => (
        <button
          key={t}
          ref={(el) => {
            if (el) refs.current.set(t, el);
            else refs.current.delete(t);
          }}
          type="button"
          role="tab"
          id={tabId(t)}
          aria-selected={t === active}
          aria-controls={panelId(t)}
          tabIndex={t === active ? 0 : -1}
          className="chart-tab"
          onClick={() => onSelect(t)}
          onKeyDown={onKeyDown}
        >
          {TAB_LABELS[t]}
        </button>
      ))}
    </div>
  );
}
