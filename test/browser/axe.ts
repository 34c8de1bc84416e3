/**
 * axe-core in the browser tests: `expectAccessible(page, screenName)` injects
 * the pinned node_modules/axe-core/axe.min.js through page.evaluate (a
 * DevTools evaluation: the page's CSP, which blocks inline script tags, stays
 * as shipped), runs the WCAG 2.0 A/AA, 2.1 AA and best-practice rules over
 * the whole document, and fails on any serious or critical violation with a
 * list of rule id, impact and target selector. It must never put page text
 * (patient data) into the failure: no node HTML, no failure summaries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from './harness';

let axeSource: string | undefined;

function source(): string {
  axeSource ??= readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  return axeSource;
}

export interface AxeFinding {
  id: string;
  impact: string;
  targets: string[];
}

/** The serious/critical violations on the page as it is now (rule id, impact, selectors only). */
export async function axeViolations(page: Page): Promise<AxeFinding[]> {
  const loaded = await page.evaluate('typeof window.axe === "object"');
  if (!loaded) await page.evaluate(source());
  return page.evaluate(async () => {
    // Runs in the page (the test's tsconfig has no DOM types).
    const page = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } };
    const result = await page.axe.run(page.document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact ?? '', targets: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  });
}

/** Fails (throws) when `screenName` has any serious or critical axe violation. */
export async function expectAccessible(page: Page, screenName: string): Promise<void> {
  const found = await axeViolations(page);
  if (found.length === 0) return;
  const lines = found.map((f) => `  ${f.id} (${f.impact}): ${f.targets.slice(0, 8).join(' | ')}${f.targets.length > 8 ? ` … +${f.targets.length - 8}` : ''}`);
  throw new Error(`axe: ${found.length} serious/critical violation(s) on "${screenName}":\n${lines.join('\n')}`);
}
