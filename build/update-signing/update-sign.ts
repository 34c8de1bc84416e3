/**
 * `npm run update-sign -- keygen <folder outside the repo>`: writes
 *   update-signing-key.pem (private, mode 0600) there and prints the public
 *   key (base64) to build with as CLINICIAN_UPDATE_PUBLIC_KEY.
 * `npm run update-sign -- sign [--restamp] <latest*.yml> [...]`: signs each manifest with
 *   the private key in the file CLINICIAN_UPDATE_SIGNING_KEY_FILE names and
 *   writes `<manifest>.sig` beside it, bound to the manifest's file name (sign
 *   it under the name it is published as: latest-linux.yml, latest.yml …);
 *   refuses a key that does not match CLINICIAN_UPDATE_PUBLIC_KEY (the key
 *   the app was built with). The app refuses a list whose releaseDate is
 *   more than 30 days old (or older than one it has seen): `--restamp` sets
 *   releaseDate to now first (re-publishing an unchanged release); without
 *   it, an older list is refused here, and so is one dated more than 5
 *   minutes ahead of now (the app would then refuse older lists until then).
 *
 * Must never: write the private key inside the repository, or print it.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { generateUpdateKeyPair, manifestReleaseDate, MAX_MANIFEST_AGE_DAYS, publicKeyBase64Of, restampManifest, signManifest } from './update-signing';

/** How far ahead of now a releaseDate may be when signing (clock skew between build machines). */
const MAX_SIGN_AHEAD_MS = 5 * 60 * 1000;

const repoRoot = resolve(import.meta.dirname, '../..');

/** The real path of `path`, resolving symlinks in the part that exists (the rest may not exist yet). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}

function insideRepo(path: string): boolean {
  const rel = relative(realpathSync(repoRoot), realPath(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function fail(message: string): never {
  console.error(`update-sign: ${message}`);
  process.exit(1);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'keygen') {
  const folder = args[0] ?? fail('keygen needs a folder outside the repository');
  if (insideRepo(folder)) fail('refusing to write a private key inside the repository');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const file = join(folder, 'update-signing-key.pem');
  if (existsSync(file)) fail(`${file} exists; refusing to overwrite a signing key`);
  const pair = generateUpdateKeyPair();
  writeFileSync(file, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  console.log(`private key: ${file} (keep it offline; set CLINICIAN_UPDATE_SIGNING_KEY_FILE to it when signing)`);
  console.log(`CLINICIAN_UPDATE_PUBLIC_KEY=${pair.publicKeyBase64}`);
} else if (command === 'sign') {
  const restamp = args.includes('--restamp');
  const manifests = args.filter((arg) => arg !== '--restamp');
  if (manifests.length === 0) fail('sign needs one or more latest*.yml files');
  const keyFile = process.env.CLINICIAN_UPDATE_SIGNING_KEY_FILE ?? fail('set CLINICIAN_UPDATE_SIGNING_KEY_FILE to the private key file');
  const expected = process.env.CLINICIAN_UPDATE_PUBLIC_KEY ?? fail('set CLINICIAN_UPDATE_PUBLIC_KEY to the public key the app is built with');
  if (insideRepo(keyFile)) fail('the signing key must not live inside the repository');
  const pem = readFileSync(keyFile, 'utf8');
  if (publicKeyBase64Of(createPrivateKey(pem)) !== expected.trim()) fail('the signing key does not match CLINICIAN_UPDATE_PUBLIC_KEY');
  for (const manifest of manifests) {
    if (restamp) writeFileSync(manifest, restampManifest(readFileSync(manifest, 'utf8'), new Date()));
    const bytes = readFileSync(manifest);
    const releaseDate = manifestReleaseDate(bytes.toString('utf8'));
    if (releaseDate === null) fail(`${manifest} has no releaseDate in ISO form (the app refuses it)`);
    if (Date.now() - releaseDate > MAX_MANIFEST_AGE_DAYS * 24 * 60 * 60 * 1000) {
      fail(`${manifest} is dated more than ${MAX_MANIFEST_AGE_DAYS} days ago and the app would refuse it; sign with --restamp`);
    }
    // The app accepts a list dated up to a day ahead (clocks differ), and then refuses any older list until that date.
    if (releaseDate > Date.now() + MAX_SIGN_AHEAD_MS) {
      fail(`${manifest} is dated in the future (releaseDate ahead of this computer's clock); fix the date or sign with --restamp`);
    }
    writeFileSync(`${manifest}.sig`, `${signManifest(bytes, pem, basename(manifest))}\n`);
    console.log(`signed ${manifest} -> ${manifest}.sig`);
  }
} else {
  fail('usage: update-sign keygen <folder> | update-sign sign [--restamp] <latest*.yml> [...]');
}
