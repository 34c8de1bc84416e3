/**
 * The chart's Export summary (FHIR) and Print / Save as PDF actions, in
 * Chromium through the real renderer and the app's handler registry with
 * X's real export surface over a real encrypted cache (the OS save dialog is
 * a stand-in answering with a path in this test's folder: the Electron
 * binary cannot run here; see export-desktop.ts). Export with a reason
 * lands in the save destination and is said in words without a path; no
 * reason is refused by the dialog and by main; Esc keeps what was typed for
 * this chart; policy off is said on the actions; keyboard use, Tab kept in
 * the dialog, axe-core; usable at 1366x768 and 683x384.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { loadFixturePatients } from '../support/synthea';
import { expectAccessible } from './axe';
import { exportDesktop, LONG_FAMILY, openChart, type ExportDesktop } from './export-desktop';
import { screenshot } from './harness';

const patient = loadFixturePatients()[0]!;
const ALL = ['fhir-json', 'pdf', 'printer'] as const;
let desktop: ExportDesktop;

before(async () => {
  desktop = await exportDesktop('export-actions');
});

after(async () => {
  await desktop?.close();
});

async function exportRows(patientId: string): Promise<Array<{ outcome: string }>> {
  return (await desktop.db()).prepare("SELECT outcome FROM audit_log WHERE patient_id = ? AND subtype = 'export' ORDER BY seq").all(patientId) as Array<{ outcome: string }>;
}

/** Activates an action by keyboard (a dimmed action is aria-disabled: focusable, and says why when used). */
async function press(page: Page, testId: string): Promise<void> {
  await page.getByTestId(testId).focus();
  await page.keyboard.press('Enter');
}

async function openExportDialog(page: Page): Promise<void> {
  await press(page, 'export-fhir');
  await page.getByTestId('export-reason-dialog').waitFor();
}

async function focusInDialog(page: Page): Promise<boolean> {
  return page.getByTestId('export-reason-dialog').evaluate((d) => d.contains((d.ownerDocument as { activeElement: unknown }).activeElement as never));
}

test('Export summary (FHIR) with a reason: the save destination gets the Bundle, the outcome is said without a path, the access log shows it', async () => {
  desktop.policy.formats = [...ALL];
  const { page, problems } = await desktop.open();
  await openChart(page, patient.given.slice(0, 5));
  const files = desktop.savedFiles().length;
  await openExportDialog(page);
  const dialog = page.getByRole('dialog', { name: 'Export summary (FHIR)' });
  await dialog.getByLabel('The patient asked for a copy').check();
  await dialog.getByLabel(/In your words/).fill('Copy requested at discharge');
  await page.getByTestId('export-reason-submit').click();
  const status = page.getByTestId('export-status');
  await status.getByText(/^Summary exported as a FHIR file \(\d+ records\)\.$/).waitFor();
  assert.equal(await dialog.count(), 0, 'the dialog closed');

  const saved = desktop.savedFiles();
  assert.equal(saved.length, files + 1, 'one file in the save destination');
  const bundle = JSON.parse(readFileSync(join(desktop.saveDir, saved.at(-1)!), 'utf8')) as { resourceType: string; entry: Array<{ resource: { resourceType: string; id: string } }> };
  assert.equal(bundle.resourceType, 'Bundle');
  assert.ok(bundle.entry.some((e) => e.resource.resourceType === 'Patient' && e.resource.id === patient.id), 'the Bundle is this patient’s summary');
  // The count said is main's (the patient's records read into the Bundle, which also holds its own summary entries).
  const count = Number(/\((\d+) records\)/.exec(await status.innerText())![1]);
  assert.ok(count > 1 && count <= bundle.entry.length, `the count said (${count}) is of the Bundle's records (${bundle.entry.length} entries)`);
  // No path anywhere in the page: not the folder, not the file name.
  const html = await page.content();
  assert.ok(!html.includes(desktop.saveDir) && !html.includes(saved.at(-1)!), 'the page never shows where the file went');
  assert.deepEqual((await exportRows(patient.id)).map((r) => r.outcome), ['0'], 'one export audited, succeeded');

  await page.getByRole('tab', { name: 'Access' }).click();
  await page.getByTestId('access-entry').first().waitFor();
  assert.match(await page.getByTestId('access-log').innerText(), /Dr Tess Printwell\s+Exported the summary\s+Succeeded/);
  // The reason is asked afresh for the next export.
  await openExportDialog(page);
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), '');
  await page.keyboard.press('Escape');
  assert.deepEqual(problems, []);
  await page.close();
});

test('without a reason the dialog stops the export (nothing sent) and main refuses it too', async () => {
  desktop.policy.formats = [...ALL];
  const { page } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  const patientId = 'print-long-0001';
  const files = desktop.savedFiles().length;
  const audited = (await exportRows(patientId)).length;
  await openExportDialog(page);
  await page.getByTestId('export-reason-submit').click();
  assert.equal(await page.getByTestId('export-reason-error').innerText(), 'Choose a reason.');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name), 'export-reason', 'focus goes to the reasons');
  // 'Other' needs words.
  await page.getByLabel('Other (say why)').check();
  await page.getByTestId('export-reason-text').fill('   ');
  await page.getByTestId('export-reason-submit').click();
  assert.equal(await page.getByTestId('export-text-error').innerText(), 'Say why, in a few words.');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'export-reason-text');
  assert.equal(await page.getByTestId('export-reason-text').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'export-reason-missing');
  await page.keyboard.press('Escape');

  // Main refuses the same calls made directly (no dialog in the way), and a path, whatever the renderer says.
  const answers = await page.evaluate(async (id) => {
    const c = (window as unknown as { clinician: { export: { fhir(i: unknown): Promise<{ ok: boolean; error?: { code: string } }> }; print: { prepare(i: unknown): Promise<{ ok: boolean; error?: { code: string } }> } } }).clinician;
    return Promise.all([
      c.export.fhir({ patientId: id }),
      c.export.fhir({ patientId: id, reason: { code: 'other', text: '  ' } }),
      c.export.fhir({ patientId: id, reason: { code: '', text: 'no code' } }),
      c.export.fhir({ patientId: id, reason: { code: 'referral', text: '' }, path: '/tmp/elsewhere.json' }),
      c.print.prepare({ patientId: id, output: 'pdf' }),
      c.print.prepare({ patientId: id, reason: { code: 'other', text: '' }, output: 'printer' }),
    ]);
  }, patientId);
  for (const a of answers) assert.deepEqual([a.ok, a.error?.code], [false, 'INVALID_INPUT']);
  assert.equal(desktop.savedFiles().length, files, 'no file was written');
  assert.equal((await exportRows(patientId)).length, audited, 'nothing was read, so nothing audited');
  await page.close();
});

test('Esc cancels without losing the typed text: reopened in the same chart it is there; another chart starts empty', async () => {
  desktop.policy.formats = [...ALL];
  const { page } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  await openExportDialog(page);
  await page.getByLabel('Other (say why)').check();
  await page.getByTestId('export-reason-text').fill('For the tumour board on Friday');
  await page.keyboard.press('Escape');
  await page.getByTestId('export-reason-dialog').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('chart').isVisible(), true, 'Esc closed the dialog only, not the chart');
  assert.equal(await page.getByTestId('export-status').innerText(), 'Export cancelled: nothing was saved.');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'export-fhir', 'focus back on the action');

  await openExportDialog(page);
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), 'For the tumour board on Friday');
  assert.equal(await page.getByLabel('Other (say why)').isChecked(), true);
  await page.keyboard.press('Escape');
  // The print dialog takes up the same reason.
  await page.getByTestId('export-print').click();
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), 'For the tumour board on Friday');
  await page.keyboard.press('Escape');

  // The OS save dialog cancelled: said in words, nothing saved, the reason still there.
  const files = desktop.savedFiles().length;
  desktop.cancelNext.save = true;
  await openExportDialog(page);
  await page.getByTestId('export-reason-submit').click();
  await page.getByTestId('export-status').getByText('Export cancelled: nothing was saved.').waitFor();
  assert.equal(desktop.savedFiles().length, files);
  await openExportDialog(page);
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), 'For the tumour board on Friday');
  await page.keyboard.press('Escape');

  // The draft belongs to this chart: closed and reopened, the reason is asked afresh.
  await page.locator('body').click({ position: { x: 5, y: 700 } });
  await page.keyboard.press('Escape');
  await page.getByTestId('chart').waitFor({ state: 'detached' });
  await openChart(page, LONG_FAMILY);
  await openExportDialog(page);
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), '');
  assert.equal(await page.getByLabel('Other (say why)').isChecked(), false);
  await page.keyboard.press('Escape');
  await page.close();
});

test('policy: turned-off actions say "Turned off by your organisation"; a format turned off while its dialog is open is refused in words', async () => {
  desktop.policy.formats = [];
  const { page } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  for (const id of ['export-fhir', 'export-print']) {
    const action = page.getByTestId(id);
    await action.getByText('Turned off by your organisation').waitFor();
    assert.equal(await action.getAttribute('aria-disabled'), 'true');
  }
  await press(page, 'export-fhir');
  await page.getByTestId('export-status').getByText('Export summary (FHIR): turned off by your organisation.').waitFor();
  assert.equal(await page.getByTestId('export-reason-dialog').count(), 0, 'no dialog for an action turned off');
  await screenshot(page, 'export-policy-off');

  // IT allows paper only: the print action opens (no PDF offered), Export stays off.
  desktop.policy.formats = ['printer'];
  await press(page, 'export-print');
  await page.getByTestId('export-reason-dialog').waitFor();
  assert.equal(await page.getByTestId('export-output-pdf').count(), 0, 'Save as PDF is not offered');
  assert.equal(await page.getByTestId('export-reason-submit').innerText(), 'Print…');
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('export-print').getAttribute('aria-disabled'), null);
  assert.equal(await page.getByTestId('export-fhir').getAttribute('aria-disabled'), 'true');
  assert.match(await page.getByTestId('export-fhir').innerText(), /Turned off by your organisation/);

  // Turned off while the clinician is choosing a reason: main refuses (EXPORT_DISABLED), said in words, the text kept.
  desktop.policy.formats = [...ALL];
  await openExportDialog(page);
  await page.getByLabel('Referral to another provider').check();
  await page.getByTestId('export-reason-text').fill('Cardiology referral');
  desktop.policy.formats = [];
  await page.getByTestId('export-reason-submit').click();
  const error = page.getByTestId('export-dialog-error');
  await error.waitFor();
  assert.match(await error.innerText(), /^The summary was not exported: turned off by your organisation\. .*turned off on this computer/);
  assert.equal(await page.getByTestId('export-reason-text').inputValue(), 'Cardiology referral');
  await page.keyboard.press('Escape');
  await page.getByTestId('export-fhir').getByText('Turned off by your organisation').waitFor();
  // The refused attempt is visible to the privacy officer (audited, failed), and nothing was saved.
  assert.equal((await exportRows('print-long-0001')).at(-1)?.outcome, '4');
  desktop.policy.formats = [...ALL];
  await page.close();
});

test('keyboard: the dialog is labelled, Tab and Shift+Tab stay inside it, arrows choose a reason, Enter on Export sends; axe finds nothing serious', async () => {
  desktop.policy.formats = [...ALL];
  const { page } = await desktop.open();
  await openChart(page, LONG_FAMILY);
  await page.getByTestId('export-fhir').focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Export summary (FHIR)' });
  await dialog.waitFor();
  assert.match((await dialog.getAttribute('aria-describedby')) ?? '', /\S/, 'the dialog has a description');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value), 'continuity-of-care', 'focus starts on the first reason');
  await expectAccessible(page, 'export reason dialog');
  // Arrow keys move through the reasons (a radio group).
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getByLabel('The patient asked for a copy').isChecked(), true);
  for (const key of ['Tab', 'Shift+Tab']) {
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press(key);
      assert.ok(await focusInDialog(page), `${key} ${i + 1}: focus stays in the dialog`);
    }
  }
  // With errors shown, still accessible.
  await page.getByLabel('Other (say why)').check();
  await page.getByTestId('export-reason-submit').click();
  await page.getByTestId('export-text-error').waitFor();
  await expectAccessible(page, 'export reason dialog with an error');
  await page.getByTestId('export-reason-text').fill('Second opinion');
  // Tab from the text to Cancel, then to Export; Enter sends.
  await page.getByTestId('export-reason-text').focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'export-reason-submit');
  await page.keyboard.press('Enter');
  await page.getByTestId('export-status').getByText(/^Summary exported as a FHIR file/).waitFor();
  await page.close();
});

for (const viewport of [
  { width: 1366, height: 768, name: '13-inch' },
  { width: 683, height: 384, name: '200 % zoom' },
]) {
  test(`usable at ${viewport.width}x${viewport.height} (${viewport.name}): actions on screen, the dialog fits, every control reachable, nothing scrolls sideways`, async () => {
    desktop.policy.formats = [...ALL];
    const { page } = await desktop.open({ viewport });
    await openChart(page, LONG_FAMILY);
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    for (const id of ['export-fhir', 'export-print']) {
      const box = (await page.getByTestId(id).boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= viewport.width + 0.5, `${id} is within the window`);
      assert.ok(box.y >= 0 && box.y + box.height <= viewport.height, `${id} is on screen`);
    }
    assert.ok((await sideways()) <= 0, 'the chart does not scroll sideways');
    await screenshot(page, `export-actions-${viewport.width}x${viewport.height}`);
    for (const kind of ['export-fhir', 'export-print']) {
      await page.getByTestId(kind).click();
      const dialog = page.getByTestId('export-reason-dialog');
      await dialog.waitFor();
      const d = (await dialog.boundingBox())!;
      assert.ok(d.x >= 0 && d.x + d.width <= viewport.width + 0.5 && d.y >= 0 && d.y + d.height <= viewport.height + 0.5, `${kind}: the dialog fits in the window`);
      // Every control can be reached and is on screen when focused (the dialog scrolls inside itself).
      const controls = dialog.locator('input, textarea, button');
      for (let i = 0; i < (await controls.count()); i++) {
        const c = controls.nth(i);
        await c.focus();
        const b = (await c.boundingBox())!;
        // On screen (a text box scrolls its caret line into view, so at least that much of it), never cut off sideways.
        const shown = Math.min(b.y + b.height, viewport.height) - Math.max(b.y, 0);
        assert.ok(shown >= Math.min(b.height, 20), `${kind}: control ${i + 1} is on screen when focused`);
        assert.ok(b.x >= 0 && b.x + b.width <= viewport.width + 0.5, `${kind}: control ${i + 1} is not cut off sideways`);
      }
      assert.ok((await sideways()) <= 0, `${kind}: nothing scrolls sideways`);
      await screenshot(page, `export-dialog-${kind}-${viewport.width}x${viewport.height}`);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    }
    await page.close();
  });
}
