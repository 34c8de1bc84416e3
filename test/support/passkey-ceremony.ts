/**
 * Real passkey ceremonies against a running backend, for tests of what comes
 * after sign-in (sessions, the front door, the security log): one Chromium
 * page per authenticator (a virtual platform authenticator through CDP), a
 * device key pair, enrollment with a one-time code and passkey sign-in over
 * HTTP. Never a stand-in for WebAuthn: the backend verifies real assertions.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { deviceSessionMessage } from '../../shared/backend-api';
import type { Db } from '../../server/database';
import type { Clock } from '../../server/clock';
import { createEnrollmentCode, formatEnrollmentCode } from '../../server/organisation/organisation';
import { addVirtualAuthenticator } from './virtual-authenticator';
import { addWebAuthnHelper } from '../browser/harness';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  text: string;
  json: Json;
  headers: Headers;
}

export async function call(url: string, method: 'GET' | 'POST', path: string, options: { body?: unknown; token?: string } = {}): Promise<Answer> {
  const r = await fetch(url + path, {
    method,
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await r.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // not JSON: json stays empty, text tells
  }
  return { status: r.status, text, json, headers: r.headers };
}

export const post = (url: string, path: string, body: unknown, token?: string) => call(url, 'POST', path, { body, ...(token ? { token } : {}) });
export const errorCode = (a: Answer) => (a.json.error as { code?: string } | undefined)?.code;

/** A device as enrollment registers it: an id and an Ed25519 key pair. */
export interface TestDevice {
  id: string;
  publicKey: string;
  privateKey: KeyObject;
}

export function newDevice(): TestDevice {
  const keys = generateKeyPairSync('ed25519');
  return { id: randomUUID(), publicKey: keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), privateKey: keys.privateKey };
}

/** The device key's proof over a device/options challenge. */
export function deviceProof(device: TestDevice, challenge: string, key: KeyObject = device.privateKey): string {
  return sign(null, Buffer.from(deviceSessionMessage(device.id, challenge)), key).toString('base64');
}

/** One platform authenticator in its own page at the renderer's origin. */
export class Authenticator {
  private constructor(readonly page: Page) {}

  static async open(browser: Browser, origin: string, prf = true): Promise<Authenticator> {
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, { prf });
    await addWebAuthnHelper(page);
    await page.goto(`${origin}/index.html`);
    return new Authenticator(page);
  }

  async create(options: unknown): Promise<Json> {
    const created = (await this.page.evaluate((o) => (globalThis as never as { __webauthn: { createPasskey(o: unknown): Promise<Json> } }).__webauthn.createPasskey(o), options)) as { response: Json };
    return created.response;
  }

  async use(options: unknown): Promise<Json> {
    const used = (await this.page.evaluate((o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<Json> } }).__webauthn.usePasskey(o), options)) as { response: Json };
    return used.response;
  }

  close(): Promise<void> {
    return this.page.close();
  }
}

/** Enrolls a new passkey of `clinicianId` on `device`; returns the session token and the credential id. */
export async function enroll(url: string, db: Db, clock: Clock, auth: Authenticator, clinicianId: string, device: TestDevice): Promise<{ token: string; credentialId: string }> {
  const code = formatEnrollmentCode(await createEnrollmentCode(db, clinicianId, clock));
  const opts = await post(url, '/v1/enroll/options', { clinicianId, code });
  assert.equal(opts.status, 200, opts.text);
  const response = await auth.create(opts.json.options);
  const r = await post(url, '/v1/enroll/verify', { clinicianId, code, response, device: { id: device.id, publicKey: device.publicKey } });
  assert.equal(r.status, 200, r.text);
  return { token: r.json.token as string, credentialId: (r.json.credential as Json).id as string };
}

/** Signs in with the authenticator's passkey; returns the whole answer (status, token or error). */
export async function signIn(url: string, auth: Authenticator, clinicianId: string, deviceId: string): Promise<Answer> {
  const opts = await post(url, '/v1/auth/options', { clinicianId });
  assert.equal(opts.status, 200, opts.text);
  const response = await auth.use(opts.json.options);
  return post(url, '/v1/auth/verify', { clinicianId, deviceId, response });
}

/** A sync-only session from the device key alone. */
export async function deviceSession(url: string, device: TestDevice): Promise<Answer> {
  const opts = await post(url, '/v1/auth/device/options', { deviceId: device.id });
  assert.equal(opts.status, 200, opts.text);
  const challenge = opts.json.challenge as string;
  return post(url, '/v1/auth/device/verify', { deviceId: device.id, challenge, signature: deviceProof(device, challenge) });
}
