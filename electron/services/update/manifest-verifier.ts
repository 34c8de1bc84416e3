/**
 * Fetches an update manifest (electron-updater's own latest*.yml bytes) and its
 * detached Ed25519 signature (`<manifest>.sig`, base64), checks the signature
 * against the public key compiled into the app over
 * `clinician-desktop-update-v1\n<channel file this app asked for>\n` + the
 * EXACT manifest bytes (so a manifest signed for another platform, arch or
 * channel does not verify), and only then parses and validates the manifest
 * (version, files with sha512 and a size under MAX_INSTALLER_BYTES, an ISO
 * releaseDate: the signing time the service checks).
 *
 * Must never: parse, log or act on a manifest before its signature checks out;
 * follow a plain-http URL other than loopback; read an unbounded body; put a
 * URL, a key or a server's text into an error message.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { load, JSON_SCHEMA } from 'js-yaml';
import { valid } from 'semver';
import { z } from 'zod';
import { AppError } from '../../../shared/app-error';

export const MANIFEST_MAX_BYTES = 64 * 1024;
export const SIGNATURE_MAX_BYTES = 1024;
export const FETCH_TIMEOUT_MS = 15_000;
/** The largest installer a signed manifest may name (its signed `size`); the download stops there. */
export const MAX_INSTALLER_BYTES = 1024 ** 3;
/** The signed message's first line; build/update-signing/update-signing.ts writes the same. */
export const SIGNATURE_CONTEXT = 'clinician-desktop-update-v1';

const REJECTED = 'An update was offered but failed its signature check; nothing was installed.';
const GARBLED = 'An update was offered with an unreadable description; nothing was installed.';
const UNAVAILABLE = 'The update server could not be reached; the app will try again later.';

const sha512Base64 = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'sha512 must be base64 of 64 bytes');

/** The fields we rely on; every other field of the signed manifest passes through untouched to electron-updater. */
export const manifestSchema = z
  .object({
    version: z.string().max(64).refine((v) => valid(v) === v, 'version must be a semver version'),
    files: z
      .array(
        z
          .object({
            url: z.string().min(1).max(500),
            sha512: sha512Base64,
            size: z.number().int().positive().max(MAX_INSTALLER_BYTES),
          })
          .passthrough(),
      )
      .min(1)
      .max(20),
    // electron-builder's releaseDate: an ISO time, the signing time the service checks for age and replay.
    releaseDate: z
      .string()
      .max(64)
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, 'releaseDate must be an ISO time in UTC')
      .refine((v) => Number.isFinite(Date.parse(v)), 'releaseDate must be a real time'),
    stagingPercentage: z.number().min(0).max(100).optional(),
  })
  .passthrough();

export type UpdateManifest = z.infer<typeof manifestSchema>;

/**
 * The public key, as the build compiles it in: base64 of the raw 32-byte
 * Ed25519 public key. Null when absent or malformed (then updates are off).
 */
export function parsePublicKey(base64: string | undefined | null): KeyObject | null {
  if (!base64) return null;
  const raw = Buffer.from(base64.trim(), 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== base64.trim()) return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** The bytes the signature covers: context, the channel file name this app asked for, the manifest's bytes. */
export function signedMessage(channelFile: string, manifestBytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${SIGNATURE_CONTEXT}\n${channelFile}\n`, 'utf8'), manifestBytes]);
}

/**
 * Signature (bound to `channelFile`, the file this app asked for) first, then
 * YAML, then schema. Throws AppError UPDATE_REJECTED on any failure.
 */
export function verifyManifest(manifestBytes: Uint8Array, signatureText: string, publicKey: KeyObject, channelFile: string): UpdateManifest {
  const sigText = signatureText.trim();
  const signature = Buffer.from(sigText, 'base64');
  if (signature.length !== 64 || signature.toString('base64') !== sigText) throw new AppError('UPDATE_REJECTED', REJECTED);
  let ok = false;
  try {
    ok = verify(null, signedMessage(channelFile, manifestBytes), publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError('UPDATE_REJECTED', REJECTED);
  let doc: unknown;
  try {
    doc = load(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes), { schema: JSON_SCHEMA });
  } catch {
    throw new AppError('UPDATE_REJECTED', GARBLED);
  }
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) throw new AppError('UPDATE_REJECTED', GARBLED);
  return parsed.data;
}

/** https, or http to loopback only (the tests' server; a developer's local one). */
export function checkUpdateUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('UPDATE_UNAVAILABLE', 'The update address in the settings is not a valid address.');
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new AppError('UPDATE_UNAVAILABLE', 'The update address in the settings must use https.');
  }
  if (parsed.username || parsed.password) throw new AppError('UPDATE_UNAVAILABLE', 'The update address in the settings must not carry a password.');
  return parsed;
}

/**
 * The URL of an installer the signed manifest names, resolved against the
 * update folder: it must stay on the update server (same origin, so https or
 * loopback http) and inside the update folder. Its own words: the settings are
 * not at fault.
 */
export function installerUrl(base: URL, name: string): URL {
  const outside = new AppError('UPDATE_REJECTED', 'The update list names a file outside the update server; nothing was installed.');
  let url: URL;
  try {
    url = fileUrl(base, name);
  } catch {
    throw outside;
  }
  const folder = fileUrl(base, '.');
  if (url.origin !== folder.origin || !url.pathname.startsWith(folder.pathname) || url.username || url.password) throw outside;
  return url;
}

/** The URL of a file beside the manifest (the base URL is treated as a folder). */
export function fileUrl(base: URL, name: string): URL {
  const folder = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
  return new URL(name, folder);
}

export type FetchLike = (url: string, init: { signal: AbortSignal; redirect: 'error'; headers: Record<string, string> }) => Promise<Response>;

async function fetchCapped(fetchImpl: FetchLike, url: URL, maxBytes: number, timeoutMs: number, missing: AppError): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetchImpl(url.href, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { 'cache-control': 'no-cache' } });
  } catch {
    throw new AppError('UPDATE_UNAVAILABLE', UNAVAILABLE);
  }
  if (response.status === 404) {
    await response.body?.cancel().catch(() => undefined);
    throw missing;
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw new AppError('UPDATE_UNAVAILABLE', UNAVAILABLE);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body.cancel().catch(() => undefined);
    throw new AppError('UPDATE_REJECTED', 'An update was offered with an oversized description; nothing was installed.');
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new AppError('UPDATE_REJECTED', 'An update was offered with an oversized description; nothing was installed.');
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('UPDATE_UNAVAILABLE', UNAVAILABLE);
  }
  return Buffer.concat(chunks);
}

export interface FetchManifestOptions {
  updateUrl: string;
  /** electron-updater's channel file for this platform: latest.yml, latest-mac.yml, latest-linux.yml. */
  channelFile: string;
  publicKey: KeyObject;
  fetch?: FetchLike;
  timeoutMs?: number;
}

/** The verified manifest, plus the base URL its relative file names resolve against. */
export interface VerifiedManifest {
  manifest: UpdateManifest;
  baseUrl: URL;
}

export async function fetchVerifiedManifest(options: FetchManifestOptions): Promise<VerifiedManifest> {
  const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike);
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const baseUrl = checkUpdateUrl(options.updateUrl);
  const manifestUrl = fileUrl(baseUrl, options.channelFile);
  const sigUrl = fileUrl(baseUrl, `${options.channelFile}.sig`);
  const noUpdate = new AppError('UPDATE_UNAVAILABLE', 'The update server offers no update for this system.');
  const unsigned = new AppError('UPDATE_REJECTED', REJECTED);
  const [manifestBytes, sigBytes] = await Promise.all([
    fetchCapped(fetchImpl, manifestUrl, MANIFEST_MAX_BYTES, timeoutMs, noUpdate),
    fetchCapped(fetchImpl, sigUrl, SIGNATURE_MAX_BYTES, timeoutMs, unsigned),
  ]);
  let sigText: string;
  try {
    sigText = new TextDecoder('utf-8', { fatal: true }).decode(sigBytes);
  } catch {
    throw unsigned;
  }
  const manifest = verifyManifest(manifestBytes, sigText, options.publicKey, options.channelFile);
  const folder = fileUrl(baseUrl, '.');
  for (const file of manifest.files) installerUrl(folder, file.url);
  return { manifest, baseUrl: folder };
}
