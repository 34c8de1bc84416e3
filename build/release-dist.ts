/**
 * `npm run dist:release -- --win|--mac|--linux [--output DIR]`: the one way to
 * build release installers. FIRST it refuses a pull-request build (a CI
 * pull-request variable makes electron-builder skip macOS signing silently,
 * release-checks.ts) and checks the platform's signing variables
 * (release-signing.ts): when one fails it names the variables, exits 1 and
 * builds nothing. Otherwise it builds the bundles without the development
 * switches and refuses a main.cjs that is not the release flavour, then runs
 * electron-builder with forceCodeSigning into a fresh staging folder, signs
 * what electron-builder does not (Linux packages: detached GPG signatures),
 * verifies every artifact's signature where this host has the tool (codesign,
 * spctl, stapler / signtool / gpg), signs the update manifests (latest*.yml,
 * Ed25519, `npm run update-sign`) and only then moves everything into the
 * output folder. Any failure leaves the output folder as it was.
 *
 * Must never: print a variable's value, write a key or a resolved entitlements
 * file into the repository, run electron-builder before the checks passed, or
 * put an artifact whose verification failed into the output folder.
 * Exit codes: 0 built, 1 refused or failed, 64 usage.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describePullRequestRefusal, pullRequestVariablesSet, releaseBuildEnv, releaseBundleProblem, verifyReleaseArtifacts } from './release-checks';
import { describeMissing, missingReleaseSigning, type ReleasePlatform } from './release-signing';

const ROOT = resolve(import.meta.dirname, '..');
const CONFIG = 'build/electron-builder.config.ts';
const USAGE = 'usage: npm run dist:release -- --win|--mac|--linux [--output DIR]';

interface ReleaseArgs {
  platforms: ReleasePlatform[];
  output: string;
}

function parseArgs(argv: string[]): ReleaseArgs | null {
  const platforms: ReleasePlatform[] = [];
  let output = join(ROOT, 'dist', 'installers');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--win' || arg === '--mac' || arg === '--linux') platforms.push(arg.slice(2) as ReleasePlatform);
    else if (arg === '--output' && argv[i + 1]) output = resolve(argv[++i] as string);
    else return null;
  }
  return platforms.length > 0 ? { platforms: [...new Set(platforms)], output } : null;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`${command} ${args[0] ?? ''} failed (exit ${result.status ?? result.signal}).`);
}

/** The app's entitlements with the real team id, in a temporary folder (never in the repo). */
function resolvedEntitlements(teamId: string): { path: string; remove(): void } {
  if (!/^[A-Z0-9]{10}$/.test(teamId)) throw new Error('APPLE_TEAM_ID must be the 10-character Apple team id.');
  const template = readFileSync(join(ROOT, 'build', 'entitlements.mac.plist'), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'clinician-entitlements-'));
  const path = join(dir, 'entitlements.mac.plist');
  writeFileSync(path, template.replace('<string>TEAMID.', `<string>${teamId}.`));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** electron-updater's manifests in the output folder (latest.yml, latest-mac.yml, latest-linux[-arm64].yml). */
export function updateManifests(outputDir: string): string[] {
  return readdirSync(outputDir).filter((name) => /^latest(-mac|-linux(-[a-z0-9]+)?)?\.yml$/.test(name)).map((name) => join(outputDir, name));
}

/** Detached, armoured GPG signatures beside each Linux package (the key stays in the release machine's keyring/agent). */
export function signLinuxPackages(outputDir: string, keyId: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const signed: string[] = [];
  for (const name of readdirSync(outputDir)) {
    if (!/\.(deb|rpm|AppImage)$/.test(name)) continue;
    const path = join(outputDir, name);
    run('gpg', ['--batch', '--yes', '--local-user', keyId, '--armor', '--detach-sign', '--output', `${path}.asc`, path], env);
    signed.push(name);
  }
  if (signed.length === 0) throw new Error('electron-builder wrote no Linux package to sign.');
  return signed;
}

/** Moves everything in staging into outputDir (replacing same-named files), then removes staging. */
export function publishStaged(staging: string, outputDir: string): string[] {
  mkdirSync(outputDir, { recursive: true });
  const moved = readdirSync(staging);
  for (const name of moved) {
    rmSync(join(outputDir, name), { recursive: true, force: true });
    renameSync(join(staging, name), join(outputDir, name));
  }
  rmSync(staging, { recursive: true, force: true });
  return moved;
}

function release(args: ReleaseArgs): void {
  // Never a development bundle in a release: no CLINICIAN_DEVELOPMENT_BUILD, and no CLINICIAN_ELECTRON_OUTDIR leaving an old dist/electron behind.
  const env = releaseBuildEnv(process.env);
  run('npm', ['run', '-s', 'build'], env);
  const bundleProblem = releaseBundleProblem(join(ROOT, 'dist', 'electron', 'main.cjs'));
  if (bundleProblem) throw new Error(`Refusing to package: ${bundleProblem}.`);
  // A fresh folder beside the output (same file system: the final move is a rename): only this run's artifacts are signed and verified.
  mkdirSync(dirname(args.output), { recursive: true });
  const staging = mkdtempSync(join(dirname(args.output), '.release-staging-'));
  try {
    build(args.platforms, staging, env);
    // The update service's own signer (build/update-signing): Ed25519 `<manifest>.sig`, and it refuses a key that does not match CLINICIAN_UPDATE_PUBLIC_KEY.
    const manifests = updateManifests(staging);
    if (manifests.length === 0) throw new Error('electron-builder wrote no update manifest (latest*.yml).');
    run('npm', ['run', '-s', 'update-sign', '--', 'sign', ...manifests], env);
    publishStaged(staging, args.output);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  console.log(`Installers and signed update manifests are in ${args.output}.`);
}

function build(platforms: ReleasePlatform[], staging: string, env: NodeJS.ProcessEnv): void {
  for (const platform of platforms) {
    const builderArgs = ['--config', CONFIG, `--${platform}`, '--publish', 'never', '-c.forceCodeSigning=true', `-c.directories.output=${staging}`];
    let entitlements: { path: string; remove(): void } | null = null;
    try {
      if (platform === 'mac') {
        entitlements = resolvedEntitlements(env.APPLE_TEAM_ID ?? '');
        builderArgs.push(`-c.mac.entitlements=${entitlements.path}`, `-c.mac.provisioningProfile=${resolve(env.CLINICIAN_MAC_PROVISIONING_PROFILE ?? '')}`);
      }
      run(join(ROOT, 'node_modules', '.bin', 'electron-builder'), builderArgs, env);
    } finally {
      entitlements?.remove();
    }
    if (platform === 'linux') signLinuxPackages(staging, env.CLINICIAN_LINUX_GPG_KEY_ID ?? '', env);
    // electron-builder can leave an artifact unsigned and still exit 0 (macOS signing skipped): check what it wrote.
    const { verified, skipped } = verifyReleaseArtifacts(platform, staging, env);
    console.log(`Verified the signatures of ${verified.length} ${platform} artifact(s).`);
    if (skipped) console.warn(`Not verified on this host: ${skipped}.`);
  }
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  if (!args) {
    console.error(USAGE);
    return 64;
  }
  const pullRequest = pullRequestVariablesSet(process.env);
  if (pullRequest.length > 0) {
    console.error(describePullRequestRefusal(pullRequest));
    return 1;
  }
  const missing = missingReleaseSigning(args.platforms, process.env, ROOT);
  if (missing.length > 0) {
    console.error(describeMissing(args.platforms, missing));
    return 1;
  }
  try {
    release(args);
    return 0;
  } catch (err) {
    console.error(`Release failed: ${err instanceof Error ? err.message : 'unknown error'}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) process.exitCode = main();
