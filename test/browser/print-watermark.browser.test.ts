/**
 * Print / Save as PDF from the chart, in Chromium through the real renderer
 * and the app's handler registry with X's real export surface (a real
 * encrypted cache with a long synthetic chart: 120 vitals, 24 notes). The
 * Electron binary cannot run here, so webContents.printToPDF (and, for
 * paper, webContents.print) is stood in for by Chromium's own print-to-PDF
 * of the SAME page, playwright's page.pdf(), the engine Electron's
 * printToPDF uses, called by main's print.output while the renderer's print
 * view is mounted (test/browser/export-desktop.ts). The PDF's text is read
 * with pdftotext, page by page: the watermark (clinician, time,
 * "Confidential") is on EVERY page, the app shell (top bar, search, buttons,
 * the chart on screen) is on none, and the print view is gone afterwards.
 * The print is audited (the chart's access log says so).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CLINICIAN_NAME, exportDesktop, LONG_FAMILY, LONG_PATIENT_ID, openChart, type ExportDesktop } from './export-desktop';
import { screenshot } from './harness';

let desktop: ExportDesktop;

before(async () => {
  desktop = await exportDesktop('print-watermark');
});

after(async () => {
  await desktop?.close();
});

/** The PDF's text, one string per page (pdftotext keeps the reading order; form feeds separate pages). */
function pdfPages(file: string): string[] {
  const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  const pages = text.split('\f');
  if (pages[pages.length - 1]!.trim() === '') pages.pop();
  return pages.map((p) => p.replace(/\s+/g, ' '));
}

function pdfPageCount(file: string): number {
  const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  return Number(/^Pages:\s+(\d+)/m.exec(info)?.[1]);
}

async function printWith(page: Page, output: 'pdf' | 'printer', reason = 'Continuity of care'): Promise<void> {
  await page.getByTestId('export-print').click();
  const dialog = page.getByTestId('export-reason-dialog');
  await dialog.waitFor();
  await dialog.getByLabel(reason).check();
  await page.getByTestId(`export-output-${output}`).check();
  await page.getByTestId('export-reason-submit').click();
}

/** The app shell's own words: none may reach paper. */
const SHELL_WORDS = ['Clinician Desktop', 'Find a patient', 'Encrypted cache open', 'Settings', 'Start consultation', 'Export summary (FHIR)', 'Print / Save as PDF', 'Vitals flowsheet and lab results', 'Close', 'dr.printwell'];

test('Save as PDF: the watermark (clinician, time, Confidential) is on every page of a long chart, and the app shell on none', async () => {
  const { page, problems } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  const before = desktop.savedFiles().length;
  await printWith(page, 'pdf');
  await page.getByTestId('export-status').getByText('Summary saved as PDF.').waitFor();

  // Main printed while the print view was mounted, and the view is gone now (no printed chart stays in the DOM).
  const seen = desktop.outputs.at(-1)!;
  assert.equal(seen.kind, 'pdf');
  assert.ok(seen.watermarkTime, 'the print view was mounted when main printed the page');
  assert.equal(await page.getByTestId('print-view').count(), 0, 'the print view is unmounted afterwards');
  // The screen never showed it: the chart is still what is on screen.
  assert.equal(await page.getByTestId('chart').isVisible(), true);

  const files = desktop.savedFiles();
  assert.equal(files.length, before + 1, 'one PDF was saved where the (stand-in) save dialog said');
  const file = join(desktop.saveDir, files.at(-1)!);
  assert.match(file, /\.pdf$/);
  const pages = pdfPages(file);
  assert.equal(pages.length, pdfPageCount(file), 'pdftotext read every page');
  assert.ok(pages.length >= 4, `a long chart prints on several pages (got ${pages.length})`);
  const line = `Confidential · Printed by ${CLINICIAN_NAME} · ${seen.watermarkTime}`;
  pages.forEach((text, i) => {
    // Header and footer: the line twice on every page, each with clinician, time and "Confidential".
    assert.equal(text.split(line).length - 1, 2, `page ${i + 1} of ${pages.length} carries the watermark line at top and bottom`);
    assert.ok(text.includes(`Printa ${LONG_FAMILY}`), `page ${i + 1} names the patient`);
    for (const word of SHELL_WORDS) assert.ok(!text.includes(word), `page ${i + 1} shows no app shell ("${word}")`);
  });
  const all = pages.join(' ');
  // The summary itself: patient header, problems, medications, allergies, vitals, notes.
  for (const expected of ['PROBLEMS', 'Synthetic problem number 10', 'MEDICATIONS', 'Synthetic medicine 12 10 mg tablet', 'ALLERGIES', 'Anaphylaxis', 'RECENT VITALS', 'Oxygen saturation', 'NOTES', 'Day 24.', 'Day 1.']) {
    assert.ok(all.includes(expected), `the PDF holds "${expected}"`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('Print on paper: main prints the page with the print view mounted, says so in words, and the access log shows the print', async () => {
  const { page, problems } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  await printWith(page, 'printer', 'Referral to another provider');
  await page.getByTestId('export-status').getByText('Summary sent to the printer.').waitFor();
  const seen = desktop.outputs.at(-1)!;
  assert.equal(seen.kind, 'printer');
  assert.ok(seen.watermarkTime, 'the print view was mounted when main printed');
  assert.equal(await page.getByTestId('print-view').count(), 0);
  // What the printer was given (kept as a PDF by the stand-in) carries the watermark on every page too.
  const pages = pdfPages(join(desktop.saveDir, desktop.savedFiles().at(-1)!));
  assert.ok(pages.length >= 4);
  for (const text of pages) assert.ok(text.includes(`Confidential · Printed by ${CLINICIAN_NAME} · ${seen.watermarkTime}`));

  // print.prepare was audited in the cache (reason code as a URN, the print subtype) and the chart's access log says it in words.
  const rows = (await desktop.db())
    .prepare("SELECT outcome, json_extract(entry, '$[7]') AS entities FROM audit_log WHERE patient_id = ? AND subtype = 'print' ORDER BY seq")
    .all(LONG_PATIENT_ID) as Array<{ outcome: string; entities: string }>;
  assert.ok(rows.some((r) => r.outcome === '0' && r.entities.includes('urn:clinician-desktop:export:reason:referral') && r.entities.includes('urn:clinician-desktop:export:format:printer')));
  await page.getByRole('tab', { name: 'Access' }).click();
  await page.getByTestId('access-entry').first().waitFor();
  assert.match(await page.getByTestId('access-log').innerText(), /Dr Tess Printwell\s+Printed or saved the summary as PDF\s+Succeeded/);
  await screenshot(page, 'print-access-log');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a cancelled print dialog is said in words, prints nothing and leaves no print view', async () => {
  const { page } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  const before = desktop.savedFiles().length;
  desktop.cancelNext.print = true;
  await printWith(page, 'printer');
  await page.getByTestId('export-status').getByText('Print cancelled: nothing was printed.').waitFor();
  desktop.cancelNext.save = true;
  await printWith(page, 'pdf');
  await page.getByTestId('export-status').getByText('Save as PDF cancelled: nothing was saved.').waitFor();
  assert.equal(desktop.savedFiles().length, before, 'no file');
  assert.equal(await page.getByTestId('print-view').count(), 0);
  await page.close();
});
