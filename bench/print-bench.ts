/**
 * Benchmark of PDF export of a 200-resource chart (issue 13): the app's own
 * print flow in Chromium, through the real renderer and the app's handler
 * registry with the real export surface over a real encrypted cache
 * (test/browser/export-desktop.ts; the Electron binary cannot run here, so
 * webContents.printToPDF is stood in for by playwright's page.pdf(), the
 * same Chromium print-to-PDF engine, A4 with backgrounds as main asks).
 * Each round prints the chart once as the clinician does (Print / Save as
 * PDF, a reason, Save as PDF) and times, interleaved in that round:
 *  - `with_print_view`: page.pdf() while the print view (with its
 *    watermark) is mounted: the figure of the issue;
 *  - `without_watermark`: the same page and print view with the watermark
 *    lines and mark hidden (their cost);
 *  - `plain_chart` (baseline): page.pdf() of the same page with no print
 *    view, in screen media (the chart as it is on screen);
 *  - `flow`: the whole print, from the Save as PDF click to "saved" on
 *    screen (print.prepare's audited read, mounting, the PDF, the file).
 * p50 and p95 of each, ratios to the baseline, pages and bytes of each PDF.
 * Figures only; run by bench/run-all.ts (`--only print`).
 */
import { ms, ratio, round, stats } from './bench-stats';
import { exportDesktop, LONG_FAMILY, openChart, PDF_OPTIONS } from '../test/browser/export-desktop';
import { CHART_200, resourceCount } from '../test/browser/print-long-chart';

function pdfPages(bytes: Uint8Array): number {
  return (Buffer.from(bytes).toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
}

export async function runPrintBench(quick: boolean) {
  const rounds = quick ? 6 : 30;
  const warmup = 2;
  const withView: number[] = [];
  const noWatermark: number[] = [];
  const plain: number[] = [];
  const flow: number[] = [];
  const sizes = { with_print_view: { pages: 0, bytes: 0 }, without_watermark: { pages: 0, bytes: 0 }, plain_chart: { pages: 0, bytes: 0 } };
  let round_ = 0;
  const desktop = await exportDesktop('bench-print', {
    synthea: false,
    longChart: CHART_200,
    async pdf(page) {
      const measured = round_ >= warmup;
      let t = process.hrtime.bigint();
      const bytes = await page.pdf(PDF_OPTIONS);
      if (measured) withView.push(ms(t));
      sizes.with_print_view = { pages: pdfPages(bytes), bytes: bytes.length };
      // The same print view without the watermark (CSSOM: the page's CSP allows no injected style sheet).
      await page.evaluate(() => {
        document.querySelectorAll<HTMLElement>('.print-watermark, .print-watermark-diagonal').forEach((el) => (el.style.display = 'none'));
      });
      t = process.hrtime.bigint();
      const bare = await page.pdf(PDF_OPTIONS);
      if (measured) noWatermark.push(ms(t));
      sizes.without_watermark = { pages: pdfPages(bare), bytes: bare.length };
      await page.evaluate(() => {
        document.querySelectorAll<HTMLElement>('.print-watermark, .print-watermark-diagonal').forEach((el) => (el.style.display = ''));
      });
      return bytes;
    },
  });
  try {
    const { page } = await desktop.open();
    await openChart(page, LONG_FAMILY);
    for (round_ = 0; round_ < warmup + rounds; round_++) {
      await page.getByTestId('export-print').click();
      await page.getByTestId('export-reason-dialog').waitFor();
      await page.getByLabel('Continuity of care').check();
      await page.getByTestId('export-output-pdf').check();
      const t = process.hrtime.bigint();
      await page.getByTestId('export-reason-submit').click();
      await page.getByTestId('export-status').getByText('Summary saved as PDF.').waitFor();
      if (round_ >= warmup) flow.push(ms(t));
      await page.getByTestId('print-view').waitFor({ state: 'detached' });
      // Baseline: the same page, no print view, as on screen.
      await page.emulateMedia({ media: 'screen' });
      const b = process.hrtime.bigint();
      const bytes = await page.pdf(PDF_OPTIONS);
      if (round_ >= warmup) plain.push(ms(b));
      sizes.plain_chart = { pages: pdfPages(bytes), bytes: bytes.length };
      await page.emulateMedia({ media: null });
    }
    const w = stats(withView);
    const n = stats(noWatermark);
    const p = stats(plain);
    return {
      chart_resources: resourceCount(CHART_200),
      stand_in: 'page.pdf() (Chromium print-to-PDF, A4, backgrounds) stands in for webContents.printToPDF',
      rounds,
      pdf_ms: { with_print_view: w, without_watermark: n, plain_chart: p },
      pdf_size: sizes,
      ratio_with_print_view_to_plain_chart: { p50: ratio(w.p50_ms, p.p50_ms), p95: ratio(w.p95_ms, p.p95_ms) },
      ratio_with_to_without_watermark: { p50: ratio(w.p50_ms, n.p50_ms), p95: ratio(w.p95_ms, n.p95_ms) },
      print_flow_ms: stats(flow),
      print_flow_per_page_p50_ms: round(stats(flow).p50_ms / Math.max(1, sizes.with_print_view.pages), 1),
    };
  } finally {
    await desktop.close();
  }
}
