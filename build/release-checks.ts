/**
 * The release script's guards (build/release-dist.ts), kept as small functions
 * the packaging test calls directly:
 * - which CI pull-request variables make electron-builder skip macOS signing
 *   silently (app-builder-lib's isSignAllowed/isPullRequest, where
 *   forceCodeSigning is not consulted), so a release refuses to start;
 * - the environment the release bundles are built with (no development-build
 *   switch, no bundle redirected elsewhere) and the check that
 *   dist/electron/main.cjs really is the release flavour;
 * - which command verifies which artifact after electron-builder, on the host
 *   that has the tool, and running those commands.
 *
 * Must never: print a variable's value (only its name), treat a check it could
 * not run as passed on a platform where the signing cannot have happened, or
 * let an artifact through whose verification failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ReleasePlatform } from './release-signing';

/**
 * builder-util's isPullRequest() (26.x): any of these set to something other
 * than '' or 'false' turns macOS code signing and notarization off, even with
 * forceCodeSigning.
 */
export const PULL_REQUEST_VARIABLES = ['TRAVIS_PULL_REQUEST', 'CIRCLE_PULL_REQUEST', 'BITRISE_PULL_REQUEST', 'APPVEYOR_PULL_REQUEST_NUMBER', 'GITHUB_BASE_REF'] as const;

/** The pull-request variables that are set (names only). */
export function pullRequestVariablesSet(env: NodeJS.ProcessEnv): string[] {
  return PULL_REQUEST_VARIABLES.filter((name) => {
    const value = (env[name] ?? '').trim();
    return value !== '' && value !== 'false';
  });
}

export function describePullRequestRefusal(names: string[]): string {
  return [
    `Refusing to build a release in a pull-request build: ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} set, and electron-builder then skips macOS signing and notarization without failing (nothing was built).`,
    'Run the release from a branch or tag build, with these variables unset.',
  ].join('\n');
}

/** Variables that would make `npm run build` bundle a development build, or bundle it somewhere other than dist/electron. */
export const DEVELOPMENT_BUILD_VARIABLES = ['CLINICIAN_DEVELOPMENT_BUILD', 'CLINICIAN_ELECTRON_OUTDIR'] as const;

/** The environment the release bundles are built with: the caller's, without the development switches. */
export function releaseBuildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of DEVELOPMENT_BUILD_VARIABLES) delete clean[name];
  return clean;
}

/** What esbuild writes for electron/build-flavour.ts (build/bundle-electron.mjs defines __CLINICIAN_DEVELOPMENT_BUILD__). */
const RELEASE_FLAVOUR = /\bDEVELOPMENT_BUILD = false;/;
const DEVELOPMENT_FLAVOUR = /\bDEVELOPMENT_BUILD = true;/;

/** Why this main.cjs must not be packaged as a release, or null when it is the release flavour. */
export function releaseBundleProblem(mainCjsPath: string): string | null {
  if (!existsSync(mainCjsPath)) return `${mainCjsPath} does not exist`;
  const text = readFileSync(mainCjsPath, 'utf8');
  if (DEVELOPMENT_FLAVOUR.test(text)) return `${mainCjsPath} is a development build (DEVELOPMENT_BUILD = true)`;
  if (!RELEASE_FLAVOUR.test(text)) return `${mainCjsPath} does not hold the release flavour (no DEVELOPMENT_BUILD = false)`;
  return null;
}

/** One verification: a command whose exit 0 means the artifact is signed as it must be. */
export interface Verification {
  artifact: string;
  command: string;
  args: string[];
}

export interface VerificationPlan {
  verifications: Verification[];
  /** Set when the release must be refused (nothing to verify, or it cannot have been signed on this host). */
  refusal: string | null;
  /** Set when the check needs a tool this host does not have; the release goes on, saying so. */
  skipped: string | null;
}

/** The artifacts of a platform in an output folder: the .app bundles, the Windows installers, the Linux packages. */
export function releaseArtifacts(platform: ReleasePlatform, outputDir: string): string[] {
  const names = existsSync(outputDir) ? readdirSync(outputDir) : [];
  if (platform === 'mac') {
    return names
      .filter((name) => /^mac(-[a-z0-9]+)?$/.test(name) && statSync(join(outputDir, name)).isDirectory())
      .flatMap((dir) => readdirSync(join(outputDir, dir)).filter((n) => n.endsWith('.app')).map((n) => join(outputDir, dir, n)));
  }
  const pattern = platform === 'win' ? /\.(exe|msi)$/ : /\.(deb|rpm|AppImage)$/;
  return names.filter((name) => pattern.test(name)).map((name) => join(outputDir, name));
}

/** Which commands verify which artifact, for a platform built on `host` (process.platform). */
export function verificationPlan(platform: ReleasePlatform, host: NodeJS.Platform, artifacts: string[]): VerificationPlan {
  if (platform === 'mac' && host !== 'darwin') {
    // electron-builder signs and notarizes macOS apps only on macOS; anywhere else the app is unsigned.
    return { verifications: [], refusal: 'a macOS release can only be signed, notarized and verified on macOS', skipped: null };
  }
  if (artifacts.length === 0) return { verifications: [], refusal: `electron-builder wrote no ${platform} artifact to verify`, skipped: null };
  if (platform === 'mac') {
    return {
      verifications: artifacts.flatMap((app) => [
        { artifact: app, command: 'codesign', args: ['--verify', '--deep', '--strict', '--verbose=2', app] },
        { artifact: app, command: 'spctl', args: ['-a', '-t', 'exec', '-vv', app] },
        { artifact: app, command: 'xcrun', args: ['stapler', 'validate', app] },
      ]),
      refusal: null,
      skipped: null,
    };
  }
  if (platform === 'win') {
    if (host !== 'win32') return { verifications: [], refusal: null, skipped: 'signtool is Windows-only: verify the installers with `signtool verify /pa` before publishing them' };
    return { verifications: artifacts.map((file) => ({ artifact: file, command: 'signtool', args: ['verify', '/pa', file] })), refusal: null, skipped: null };
  }
  return {
    verifications: artifacts.map((file) => ({ artifact: file, command: 'gpg', args: ['--batch', '--verify', `${file}.asc`, file] })),
    refusal: null,
    skipped: null,
  };
}

/** Verifies a platform's artifacts in outputDir; throws naming the first artifact whose check fails or cannot run. */
export function verifyReleaseArtifacts(platform: ReleasePlatform, outputDir: string, env: NodeJS.ProcessEnv = process.env, host: NodeJS.Platform = process.platform): { verified: string[]; skipped: string | null } {
  const plan = verificationPlan(platform, host, releaseArtifacts(platform, outputDir));
  if (plan.refusal) throw new Error(`Refusing the ${platform} release: ${plan.refusal}.`);
  for (const v of plan.verifications) {
    const result = spawnSync(v.command, v.args, { env, stdio: 'pipe' });
    if (result.status !== 0) {
      const why = result.error ? `could not run ${v.command}` : `${v.command} ${v.args[0] ?? ''} exited ${result.status ?? result.signal}`;
      throw new Error(`Refusing the ${platform} release: ${v.artifact} failed verification (${why}).`);
    }
  }
  return { verified: [...new Set(plan.verifications.map((v) => v.artifact))], skipped: plan.skipped };
}
