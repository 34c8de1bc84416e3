/**
 * A titled panel of the chart (with an optional count) and a plain rows
 * table that shows the first 25 rows and offers the rest.
 */
import { useState, type ReactNode } from 'react';
import type { FhirResource } from '../../../shared/contract';

export function Section({ title, count, children, testId, className }: { title: string; count?: number; children: ReactNode; testId: string; className?: string }) {
  return (
    <section className={`section${className ? ` ${className}` : ''}`} aria-labelledby={`${testId}-title`} data-testid={testId}>
      <h2 id={`${testId}-title`}>
        {title}
        {count !== undefined && <span className="count">{count}</span>}
      </h2>
      {children}
    </section>
  );
}

/** A wide table's own horizontal scroller (never the page's), reachable by keyboard as a named region. */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

const ROWS_SHOWN = 25;

export function Rows({ rows, empty, columns, label }: { rows: FhirResource[]; empty: string; columns: Array<[string, (r: FhirResource) => ReactNode]>; label: string }) {
  const [all, setAll] = useState(false);
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  const shown = all ? rows : rows.slice(0, ROWS_SHOWN);
  return (
    <>
      <TableScroll label={label}>
        <table className="rows">
          <thead>
            <tr>{columns.map(([h]) => <th key={h} scope="col">{h}</th>)}</tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id}>{columns.map(([h, cell]) => <td key={h}>{cell(r)}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      {rows.length > shown.length && (
        <button type="button" className="link" onClick={() => setAll(true)}>Show all {rows.length}</button>
      )}
    </>
  );
}
