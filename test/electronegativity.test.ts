/**
 * The security scan in npm test: Doyensec's Electronegativity over the
 * electron/ and renderer/ sources, the built main-process bundles (copied as
 * .js) and the built pages finds nothing of high or medium severity; every
 * suppression in the sources names its check and says why; and the scan is
 * not blind (a window with Node integration and no context isolation written
 * to the scratch folder is reported). Runs offline, in one tool start.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scratchDir } from './support/scratch';
import { ROOT } from './support/cache-cli';
import {
  ELECTRON_VERSION,
  ensureBuilt,
  formatFindings,
  knownCheckIds,
  prepareAppTree,
  runElectronegativity,
  type ScanResult,
} from './support/electronegativity';

const dir = scratchDir('electronegativity');
let app: ScanResult;
let fixture: ScanResult;

// A deliberately bad main process: if the tool scanned nothing, this would go unreported.
const BAD_WINDOW = [
  "const { BrowserWindow } = require('electron');",
  "const bad = new BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false } });",
  "const reviewed = new BrowserWindow({ webPreferences: { preload: '/app/preload.js' } }); // eng-disable PRELOAD_JS_CHECK: the syntax the sources use, with a reason",
  "const unreviewed = new BrowserWindow({ webPreferences: { preload: '/app/preload.js' } });",
  "const plain = new BrowserWindow({ show: false });",
  'module.exports = { bad, reviewed, unreviewed, plain };',
].join('\n');

before(async () => {
  ensureBuilt();
  const tree = prepareAppTree(dir.path);
  const fixtureDir = join(dir.path, 'fixture');
  mkdirSync(fixtureDir);
  writeFileSync(join(fixtureDir, 'bad-window.js'), `${BAD_WINDOW}\n`);
  [app, fixture] = (await runElectronegativity([tree, fixtureDir], dir.path)) as [ScanResult, ScanResult];
});

after(() => dir.remove());

test('the scan covers the electron and renderer sources, the renamed bundles and the built pages, and parses every file', () => {
  assert.ok(app.atomicChecks > 30, `atomic checks run: ${app.atomicChecks}`);
  assert.ok(app.globalChecks > 3, `global checks run: ${app.globalChecks}`);
  for (const file of [
    'built/electron/main.js',
    'built/electron/preload.js',
    'built/renderer/index.html',
    'built/renderer/join.html',
    'sources/electron/window-policy.ts',
    'sources/electron/preload.ts',
    'sources/electron/app-protocol.ts',
    'sources/electron/ipc-bridge.ts',
    'sources/electron/main.ts',
    'sources/renderer/index.html',
    'sources/renderer/join.html',
    'sources/package.json',
  ]) {
    assert.ok(app.files.includes(file), `${file} is scanned`);
  }
  assert.ok(app.files.filter((f) => f.startsWith('sources/renderer/') && f.endsWith('.tsx')).length > 10, 'the renderer components are scanned');
  assert.deepEqual(app.errors.filter((e) => !e.tolerable), [], 'every file parsed');
  // The built pages' CSP meta tag was read and evaluated (without it the tool reports "No CSP" at MEDIUM).
  assert.ok(app.findings.every((f) => !(f.id === 'CSP_GLOBAL_CHECK' && f.file === 'N/A')), 'the CSP of the built pages is seen');
});

test('no finding of high or medium severity is left unsuppressed', () => {
  const serious = app.findings.filter((f) => f.severity === 'HIGH' || f.severity === 'MEDIUM');
  assert.deepEqual(serious, [], `Electronegativity (Electron ${ELECTRON_VERSION}) reports:\n${formatFindings(serious)}\nFix it, or suppress a false positive with // eng-disable CHECK_ID: why`);
});

test('a window with Node integration and without context isolation, written to the scratch folder, is reported', () => {
  const onBadLine = fixture.findings.filter((f) => f.file === 'bad-window.js' && f.line === 2);
  // The tool rates an explicit `nodeIntegration: true` as informational; the missing isolation and sandbox carry the severity.
  for (const [id, severity] of [['CONTEXT_ISOLATION_JS_CHECK', 'HIGH'], ['SANDBOX_JS_CHECK', 'MEDIUM'], ['NODE_INTEGRATION_JS_CHECK', 'INFORMATIONAL']]) {
    assert.ok(onBadLine.some((f) => f.id === id && f.severity === severity), `${id} reported as ${severity}: ${formatFindings(fixture.findings)}`);
  }
  assert.deepEqual(fixture.errors, []);
});

test("an eng-disable comment with a reason hides its own line's finding only, and Electron's secure defaults are assumed", () => {
  const preload = fixture.findings.filter((f) => f.id === 'PRELOAD_JS_CHECK').map((f) => f.line);
  assert.deepEqual(preload, [4], 'suppressed on line 3, reported on line 4');
  // With the Electron version given, a window without webPreferences is judged by Electron 45's defaults
  // (no Node integration), not by Electron 1's, which the tool assumes when it knows no version.
  assert.deepEqual(fixture.findings.filter((f) => f.line === 5 && f.id === 'NODE_INTEGRATION_JS_CHECK'), []);
  assert.ok(fixture.findings.some((f) => f.line === 5 && f.id === 'CONTEXT_ISOLATION_JS_CHECK'), 'the plain window was scanned');
});

function sourceFiles(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(path, e.name)) : /\.(ts|tsx|html)$/.test(e.name) ? [join(path, e.name)] : [],
  );
}

test('every suppression in the sources names a known check, says why, and covers one line', () => {
  const known = knownCheckIds();
  assert.ok(known.has('PRELOAD_JS_CHECK') && known.size > 30, 'the check ids are read from the installed tool');
  const problems: string[] = [];
  let count = 0;
  for (const file of [...sourceFiles(join(ROOT, 'electron')), ...sourceFiles(join(ROOT, 'renderer'))]) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (!line.includes('eng-disable')) return;
      count += 1;
      const where = `${relative(ROOT, file)}:${index + 1}`;
      // The tool reads the check names up to the first character that is not a word or a space, so in
      // scripts a colon ends them; in HTML the names must run up to "-->", so the reason is a second comment.
      const m = file.endsWith('.html')
        ? /<!--[ \t]*eng-disable[ \t]+([A-Z0-9_ \t]+)-->[ \t]*<!--(.*)-->/.exec(line)
        : /eng-disable[ \t]+([A-Z0-9_ \t]+?):[ \t]*(.*)$/.exec(line);
      if (!m) return problems.push(`${where}: write "// eng-disable CHECK_ID: why" (HTML: "<!-- eng-disable CHECK_ID --> <!-- why -->")`);
      for (const id of m[1]!.trim().split(/[ \t]+/)) if (!known.has(id)) problems.push(`${where}: unknown check ${id}`);
      if (m[2]!.replace(/\*\/|-->/g, '').trim().length < 20) problems.push(`${where}: say why the finding is a false positive`);
      // On a file's first line the tool would disable the check for the whole file.
      if (index === 0) problems.push(`${where}: a file-wide suppression`);
    });
  }
  assert.deepEqual(problems, []);
  assert.ok(count > 0, 'the suppressions in the sources were found');
});
