/**
 * The security scan in npm test: Doyensec's Electronegativity over the
 * electron/ and renderer/ sources, a release build of the main-process
 * bundles made for the scan (copied as .js, esbuild's `import_electronN.X`
 * written back to `X`) and the built pages finds nothing of high or medium
 * severity; every suppression in the sources names its check and says why;
 * and the scan is not blind (a window with Node integration and no context
 * isolation written to the scratch folder is reported, both as source and in
 * the shape esbuild bundles it). Runs offline, in one tool start.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scratchDir } from './support/scratch';
import { ROOT } from './support/cache-cli';
import {
  ELECTRON_VERSION,
  carrySuppressions,
  copyBundlesForScan,
  ensureRendererBuilt,
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

// The same bad window as esbuild writes it into main.cjs: the tool alone does not see `new import_electron2.BrowserWindow(`.
const BAD_BUNDLE = [
  'var import_electron2 = require("electron");',
  'const bad = new import_electron2.BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false } });',
  'import_electron2.app.whenReady().then(() => (0, import_electron2.dialog).showErrorBox("x", "y"));',
  'module.exports = { bad };',
].join('\n');

before(async () => {
  ensureRendererBuilt();
  const tree = prepareAppTree(dir.path);
  const fixtureDir = join(dir.path, 'fixture');
  mkdirSync(fixtureDir);
  writeFileSync(join(fixtureDir, 'bad-window.js'), `${BAD_WINDOW}\n`);
  // Through the same copy as the real bundles.
  const fixtureBundle = join(dir.path, 'fixture-bundle');
  mkdirSync(fixtureBundle);
  writeFileSync(join(fixtureBundle, 'bad-bundle.cjs'), `${BAD_BUNDLE}\n`);
  copyBundlesForScan(fixtureBundle, fixtureDir);
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

test('a bad window in the shape esbuild bundles it (new import_electron2.BrowserWindow) is reported, on its own line', () => {
  const onBadLine = fixture.findings.filter((f) => f.file === 'bad-bundle.js' && f.line === 2);
  for (const [id, severity] of [['CONTEXT_ISOLATION_JS_CHECK', 'HIGH'], ['SANDBOX_JS_CHECK', 'MEDIUM']]) {
    assert.ok(onBadLine.some((f) => f.id === id && f.severity === severity), `${id} reported as ${severity}: ${formatFindings(fixture.findings)}`);
  }
});

test('the scanned bundles are a release build made for the scan, with the electron binding written back to bare names', () => {
  const main = readFileSync(join(dir.path, 'app', 'built', 'electron', 'main.js'), 'utf8');
  assert.match(main, /^var DEVELOPMENT_BUILD\d* = false;$/m, 'release flavour');
  assert.doesNotMatch(main, /\bimport_electron\d*\./, 'no import_electronN. member access left');
  assert.match(main, /new BrowserWindow\(/, "the app's window is visible to the tool");
  assert.match(main, /require\("electron"\)/, 'the binding itself is kept');
});

test("the sources' suppressions reach the bundle on the one line with the same code, never on look-alikes", () => {
  const main = readFileSync(join(dir.path, 'app', 'built', 'electron', 'main.js'), 'utf8').split('\n');
  // esbuild keeps some comments, but on a line of their own, where the tool does not apply them: count code lines.
  const carried = main.filter((line) => line.includes('// eng-disable ') && line.slice(0, line.indexOf('// eng-disable ')).trim() !== '');
  const inSources = readFileSync(join(ROOT, 'electron', 'window-policy.ts'), 'utf8').split('\n').filter((line) => line.includes('// eng-disable '));
  assert.equal(carried.length, inSources.length, `every suppression of window-policy.ts is carried: ${carried.join('\n')}`);
  const one = [{ code: 'preload: preloadPath,', comment: '// eng-disable PRELOAD_JS_CHECK: reviewed' }];
  assert.equal(carrySuppressions('a\n  preload: preloadPath,\nb', one), 'a\n  preload: preloadPath, // eng-disable PRELOAD_JS_CHECK: reviewed\nb');
  const twice = 'preload: preloadPath,\npreload: preloadPath,';
  assert.equal(carrySuppressions(twice, one), twice, 'two look-alike lines: neither is silenced');
  assert.equal(carrySuppressions('  preload: preloadPath, x', one), '  preload: preloadPath, x', 'only the exact code');
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
