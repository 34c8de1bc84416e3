/**
 * Runs Doyensec's Electronegativity (the real tool, through its programmatic
 * API, in a child process with a hard timeout) over the app: the electron/ and
 * renderer/ sources, the main-process bundles of a release build made for the
 * scan in its scratch folder (build/bundle-electron.mjs with
 * CLINICIAN_ELECTRON_OUTDIR, never dist/electron, which may hold a newer
 * `npm start` development bundle), copied as .js because the tool reads only
 * .js/.ts/.html, with esbuild's `import_electronN.X` written back to the bare
 * `X` the tool's checks look for (it matches `new BrowserWindow(`, not
 * `new import_electron2.BrowserWindow(`), and the built pages
 * (dist/renderer/*.html, which carry the CSP meta tag). Used by
 * test/electronegativity.test.ts; run alone it prints every finding:
 *
 *   node --import tsx test/support/electronegativity.ts
 *
 * It must never reach the network: the outdated-Electron check
 * (AvailableSecurityFixesGlobalCheck) downloads Electron's release list from
 * GitHub, so it is excluded and the installed Electron version is given
 * instead. (The tool also asks S3 for translations once, with a 1 s timeout,
 * and falls back to its bundled English: in the test namespace that fails at
 * once.) It never edits the repository: it copies into a scratch folder.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scratchDir } from './scratch';

const ROOT = resolve(process.env.CLINICIAN_TEST_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const require = createRequire(join(ROOT, 'package.json'));

/** The Electron the app is built against: the tool judges default webPreferences by it. */
export const ELECTRON_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Checks left out of every scan, each with its reason (tool class names, as -x takes them).
 * AvailableSecurityFixesGlobalCheck: downloads Electron's release list from GitHub; the scan runs
 * offline. The Electron version is pinned in package.json and updated with the dependencies.
 */
export const EXCLUDED_CHECKS = ['AvailableSecurityFixesGlobalCheck'];

/**
 * A guard against a hung tool, not a speed target: the child's whole run (tool start, every input)
 * takes ~25 s here, but over 50 s on the shared 2-core machine under load (seen), so it is killed at 2 min.
 */
export const SCAN_TIMEOUT_MS = 120_000;

export type Severity = 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL';

export interface Finding {
  id: string;
  severity: Severity;
  confidence: string;
  /** Relative to the scanned input; 'N/A' for whole-app (global) findings. */
  file: string;
  line: number;
  column: number;
  sample: string;
  description: string;
  manualReview: boolean;
}

export interface ScanResult {
  input: string;
  /** The files the tool's own directory loader lists for the input, relative to it. */
  files: string[];
  globalChecks: number;
  atomicChecks: number;
  /** Files the tool could not parse (tolerable: parsed with warnings). */
  errors: Array<{ file: string; message: string; tolerable: boolean }>;
  /** What the tool reports; lines carrying an eng-disable comment for the check are already left out by it. */
  findings: Finding[];
}

/** The scanned tree's folders and the repository folders they are copies of. */
export const SCAN_LAYOUT = {
  'sources/electron': 'electron',
  'sources/renderer': 'renderer',
  'built/electron': 'build/bundle-electron.mjs (release build, into the scratch folder)',
  'built/renderer': 'dist/renderer',
} as const;

function newestMtime(path: string, accept: (file: string) => boolean): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return accept(path) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry), accept));
  return newest;
}

function oldestMtime(files: string[]): number {
  return Math.min(...files.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
}

const isSource = (f: string) => /\.(ts|tsx|mts|cts|mjs|js|json|html)$/.test(f);

/** Bundles the main process as a release build (never the development flavour) into outDir. */
export function buildReleaseBundles(outDir: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, CLINICIAN_ELECTRON_OUTDIR: outDir };
  delete env.CLINICIAN_DEVELOPMENT_BUILD;
  execFileSync('npm', ['run', '-s', 'build:electron'], { cwd: ROOT, env, stdio: 'pipe', timeout: 120_000 });
}

/**
 * esbuild reaches electron's exports through its require binding
 * (`import_electron2.BrowserWindow`); the tool's checks match the bare names
 * (`new BrowserWindow(`, `protocol.handle(`), so the scan copy drops the
 * binding. Only within a line: line numbers stay those of the bundle.
 */
export function rewriteBundleForScan(source: string): string {
  return source.replace(/\bimport_electron\d*\./g, '');
}

/** A reviewed suppression in the sources: the code on its line and the `// eng-disable CHECK: why` comment. */
export interface SourceSuppression {
  code: string;
  comment: string;
}

/** Every `// eng-disable` comment written at the end of a code line in the .ts sources under dir. */
export function sourceSuppressions(dir: string): SourceSuppression[] {
  const found: SourceSuppression[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(path, entry.name));
      else if (entry.name.endsWith('.ts')) {
        for (const line of readFileSync(join(path, entry.name), 'utf8').split('\n')) {
          const at = line.indexOf('// eng-disable ');
          if (at > 0 && line.slice(0, at).trim() !== '') found.push({ code: line.slice(0, at).trim(), comment: line.slice(at).trim() });
        }
      }
    }
  };
  walk(dir);
  return found;
}

/**
 * esbuild drops comments, so a finding the sources suppressed (with its
 * reason) would come back from the bundle. Each source suppression is put
 * back on the bundle line whose code is exactly the same, and only when
 * exactly one bundle line is: a line of bundled third-party code that merely
 * looks alike elsewhere is never silenced.
 */
export function carrySuppressions(bundle: string, suppressions: readonly SourceSuppression[]): string {
  const lines = bundle.split('\n');
  for (const { code, comment } of suppressions) {
    const at = lines.flatMap((line, index) => (line.trim() === code ? [index] : []));
    if (at.length === 1) lines[at[0]!] = `${lines[at[0]!]} ${comment}`;
  }
  return lines.join('\n');
}

/** Copies each bundle (.cjs) of fromDir to toDir as .js, rewritten for the scan, with the sources' suppressions carried over. */
export function copyBundlesForScan(fromDir: string, toDir: string, suppressions: readonly SourceSuppression[] = []): void {
  mkdirSync(toDir, { recursive: true });
  for (const bundle of readdirSync(fromDir).filter((f) => f.endsWith('.cjs'))) {
    const rewritten = rewriteBundleForScan(readFileSync(join(fromDir, bundle), 'utf8'));
    writeFileSync(join(toDir, bundle.replace(/\.cjs$/, '.js')), carrySuppressions(rewritten, suppressions));
  }
}

/** Builds dist/renderer when missing or older than the pages' sources (only the pages' <head> is scanned from it). */
export function ensureRendererBuilt(): { builtRenderer: boolean } {
  // The pages' <head> (with the CSP meta tag) comes from renderer/*.html and the shared CSP.
  const pages = ['index.html', 'join.html'].map((f) => join(ROOT, 'dist', 'renderer', f));
  const pageInputs = Math.max(
    ...readdirSync(join(ROOT, 'renderer')).filter((f) => f.endsWith('.html')).map((f) => statSync(join(ROOT, 'renderer', f)).mtimeMs),
    newestMtime(join(ROOT, 'shared', 'content-security-policy.ts'), isSource),
    newestMtime(join(ROOT, 'build', 'vite.renderer.config.ts'), isSource),
  );
  const builtRenderer = oldestMtime(pages) < pageInputs;
  if (builtRenderer) execFileSync('npm', ['run', '-s', 'build:renderer'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  return { builtRenderer };
}

function copyTree(from: string, to: string, accept: (file: string) => boolean): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) copyTree(source, join(to, entry.name), accept);
    else if (entry.isFile() && accept(entry.name)) copyFileSync(source, join(to, entry.name));
  }
}

/**
 * Lays out what is scanned under `dir`: the sources as they are, a release
 * build of the bundles made in `dir` (each renamed from .cjs to .js and
 * rewritten for the scan), and the built pages. Returns the tree's path.
 */
export function prepareAppTree(dir: string): string {
  const tree = join(dir, 'app');
  copyTree(join(ROOT, 'electron'), join(tree, 'sources', 'electron'), isSource);
  copyTree(join(ROOT, 'renderer'), join(tree, 'sources', 'renderer'), isSource);
  // npm scripts: the tool checks them for Chromium switches that turn security off.
  copyFileSync(join(ROOT, 'package.json'), join(tree, 'sources', 'package.json'));
  const bundles = join(dir, 'release-bundle');
  buildReleaseBundles(bundles);
  copyBundlesForScan(bundles, join(tree, 'built', 'electron'), sourceSuppressions(join(ROOT, 'electron')));
  mkdirSync(join(tree, 'built', 'renderer'), { recursive: true });
  for (const page of readdirSync(join(ROOT, 'dist', 'renderer')).filter((f) => f.endsWith('.html'))) {
    copyFileSync(join(ROOT, 'dist', 'renderer', page), join(tree, 'built', 'renderer', page));
  }
  return tree;
}

/** Runs the tool over each input in one child process (one tool start), killed after SCAN_TIMEOUT_MS. */
export async function runElectronegativity(inputs: string[], workDir: string): Promise<ScanResult[]> {
  const out = join(workDir, 'electronegativity-results.json');
  const self = fileURLToPath(import.meta.url);
  await new Promise<void>((done, fail) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', self, '--scan-child', out, ...inputs],
      { cwd: ROOT, timeout: SCAN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (err) fail(new Error(`electronegativity did not finish (${err.killed ? `killed after ${SCAN_TIMEOUT_MS} ms` : `exit ${String(err.code)}`}): ${stderr.slice(-2000)}`));
        else done();
      },
    );
  });
  return JSON.parse(readFileSync(out, 'utf8')) as ScanResult[];
}

interface ToolIssue {
  id: string;
  severity: { name: Severity };
  confidence: { name: string };
  file: string;
  location: { line: number; column: number };
  sample?: string;
  description: string;
  manualReview: boolean;
}

type ToolRun = (options: Record<string, unknown>) => Promise<{
  globalChecks: number;
  atomicChecks: number;
  errors: Array<{ file: string; message: string; tolerable: boolean }>;
  issues: ToolIssue[];
}>;

/** In the child: the tool's own loader lists the files, its run() scans them. */
async function scanChild(out: string, inputs: string[]): Promise<void> {
  const run = require('@doyensec/electronegativity') as ToolRun;
  const { LoaderDirectory } = require('@doyensec/electronegativity/dist/loader') as {
    LoaderDirectory: new () => { load(dir: string): Promise<void>; list_files: Set<string> };
  };
  const results: ScanResult[] = [];
  for (const input of inputs) {
    const loader = new LoaderDirectory();
    await loader.load(input);
    const scanned = await run({
      input,
      isRelative: true,
      // The runner reads electronVersionOverride (its README's `electronVersion` is ignored).
      electronVersionOverride: ELECTRON_VERSION,
      excludeFromScan: EXCLUDED_CHECKS,
    });
    results.push({
      input,
      files: [...loader.list_files].map((f) => relative(input, f)).sort(),
      globalChecks: scanned.globalChecks,
      atomicChecks: scanned.atomicChecks,
      errors: scanned.errors.map((e) => ({ file: relative(input, e.file), message: e.message, tolerable: e.tolerable })),
      findings: scanned.issues.map((i) => ({
        id: i.id,
        severity: i.severity.name,
        confidence: i.confidence.name,
        file: i.file,
        line: i.location.line,
        column: i.location.column,
        sample: (i.sample ?? '').slice(0, 200),
        description: i.description,
        manualReview: i.manualReview,
      })),
    });
  }
  writeFileSync(out, JSON.stringify(results));
}

/** One line per finding, for assertion messages and the command-line report. */
export function formatFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.severity.padEnd(13)} ${f.id.padEnd(44)} ${f.file}:${f.line}:${f.column}  ${f.sample}`).join('\n');
}

/** The check ids the installed tool knows (from its check classes), to validate suppression comments. */
export function knownCheckIds(): Set<string> {
  const checksDir = join(dirname(require.resolve('@doyensec/electronegativity')), 'finder', 'checks');
  const ids = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.js')) for (const m of readFileSync(join(dir, entry.name), 'utf8').matchAll(/this\.id = "([A-Z0-9_]+)"/g)) ids.add(m[1]!);
    }
  };
  walk(checksDir);
  return ids;
}

const invokedAsScript = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedAsScript) {
  if (process.argv[2] === '--scan-child') {
    await scanChild(process.argv[3]!, process.argv.slice(4));
  } else {
    const dir = scratchDir('electronegativity');
    try {
      ensureRendererBuilt();
      const [result] = await runElectronegativity([prepareAppTree(dir.path)], dir.path);
      console.log(`Electronegativity over ${result!.files.length} files (${result!.atomicChecks} atomic, ${result!.globalChecks} global checks; Electron ${ELECTRON_VERSION}; excluded: ${EXCLUDED_CHECKS.join(', ')})`);
      for (const e of result!.errors) console.log(`parse ${e.tolerable ? 'warning' : 'ERROR'}: ${e.file}: ${e.message}`);
      console.log(result!.findings.length ? formatFindings(result!.findings) : 'no findings');
      process.exitCode = result!.findings.some((f) => f.severity === 'HIGH' || f.severity === 'MEDIUM') ? 1 : 0;
    } finally {
      dir.remove();
    }
  }
}
