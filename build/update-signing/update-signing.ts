/**
 * The release side of update signing: make an Ed25519 key pair, and sign an
 * electron-updater manifest (latest*.yml) with a detached signature written
 * beside it as `<manifest>.sig` (base64). The signature covers
 * `clinician-desktop-update-v1\n<channel file name>\n` followed by the
 * manifest's exact bytes, so a manifest signed as latest-linux-arm64.yml (or
 * beta-linux.yml) does not verify when served as latest-linux.yml. The app's
 * verifier (electron/services/update/manifest-verifier.ts) builds the same
 * message; test/update-sign-tool.test.ts checks the two agree.
 *
 * Must never: write a private key into the repository, print a private key,
 * or sign without checking the signature against the public key it implies.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export interface UpdateKeyPair {
  /** PKCS#8 PEM: keep it outside the repository (CLINICIAN_UPDATE_SIGNING_KEY_FILE). */
  privateKeyPem: string;
  /** base64 of the raw 32-byte public key: the build's CLINICIAN_UPDATE_PUBLIC_KEY. */
  publicKeyBase64: string;
}

export function publicKeyBase64Of(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

export function generateUpdateKeyPair(): UpdateKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKeyBase64: publicKeyBase64Of(privateKey) };
}

export const SIGNATURE_CONTEXT = 'clinician-desktop-update-v1';

/** The channel file names electron-updater asks for (latest.yml, latest-mac.yml, latest-linux[-arch].yml, beta-*.yml …). */
const CHANNEL_FILE = /^[a-z0-9]+(-[a-z0-9]+)*\.yml$/;

/** The bytes the signature covers: context, channel file name, manifest. */
export function signedMessage(channelFile: string, manifestBytes: Uint8Array): Buffer {
  if (!CHANNEL_FILE.test(channelFile)) throw new Error('the manifest must be named like latest-linux.yml');
  return Buffer.concat([Buffer.from(`${SIGNATURE_CONTEXT}\n${channelFile}\n`, 'utf8'), manifestBytes]);
}

/** The detached signature (base64) over these manifest bytes, bound to the channel file name they are published as. */
export function signManifest(manifestBytes: Uint8Array, privateKeyPem: string, channelFile: string): string {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the signing key is not an Ed25519 key');
  const message = signedMessage(channelFile, manifestBytes);
  const signature = sign(null, message, key);
  if (!verify(null, message, createPublicKey(key), signature)) throw new Error('the signature does not verify');
  return signature.toString('base64');
}

/** The app refuses an update list whose releaseDate (its signing time) is older than this (update-service.ts MAX_MANIFEST_AGE_DAYS). */
export const MAX_MANIFEST_AGE_DAYS = 30;

const RELEASE_DATE_LINE = /^releaseDate: '?([^'\n]*)'?$/m;

/** The manifest's releaseDate in ms, or null when it has none the app would accept. */
export function manifestReleaseDate(manifestText: string): number | null {
  const value = RELEASE_DATE_LINE.exec(manifestText)?.[1];
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value)) return null;
  const time = Date.parse(value);
  return Number.isFinite(time) ? time : null;
}

/** The manifest with its releaseDate set to `now` (re-publishing an unchanged release so the app accepts it again). */
export function restampManifest(manifestText: string, now: Date): string {
  if (!RELEASE_DATE_LINE.test(manifestText)) throw new Error('the manifest has no releaseDate line');
  return manifestText.replace(RELEASE_DATE_LINE, `releaseDate: '${now.toISOString()}'`);
}
