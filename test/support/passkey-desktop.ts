/**
 * A desktop (the app's AuthService, its keychain store and data folder) next
 * to a Chromium page with a virtual platform authenticator, for tests that
 * drive enrollment and sign-in from Node: the page only runs the WebAuthn
 * ceremony (the renderer's own ceremony code), as the renderer does in the
 * app. Also a keychain that can be slowed: a SecretStore around the real
 * gnome-keyring store whose chosen read waits on a promise the test
 * releases (no sleeps).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { AuthenticationResponse, RegistrationResponse } from '../../shared/backend-api';
import { AuthService } from '../../electron/services/auth-service';
import { BackendClient } from '../../electron/services/backend-client';
import type { SecretStore } from '../../electron/services/secret-store';
import { addWebAuthnHelper } from '../browser/harness';
import { addVirtualAuthenticator } from './virtual-authenticator';

type Json = Record<string, unknown>;

/** A gate on one keychain read: `reached` resolves when the read arrives; it proceeds after `release()`. */
export interface KeychainGate {
  reached: Promise<void>;
  release(): void;
}

export interface SlowKeychain extends SecretStore {
  /** The next read of an account that `match` accepts waits at a gate. */
  holdNextGet(match: (account: string) => boolean): KeychainGate;
}

export function slowKeychain(inner: SecretStore): SlowKeychain {
  let armed: { match: (account: string) => boolean; arrive(): void; wait: Promise<void> } | null = null;
  return {
    service: inner.service,
    async get(account) {
      const gate = armed;
      if (gate && gate.match(account)) {
        armed = null;
        gate.arrive();
        await gate.wait;
      }
      return inner.get(account);
    },
    set: (account, secret) => inner.set(account, secret),
    delete: (account) => inner.delete(account),
    holdNextGet(match) {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((r) => (arrive = r));
      const wait = new Promise<void>((r) => (release = r));
      armed = { match, arrive, wait };
      return { reached, release };
    },
  };
}

/** A backend client that remembers the tokens it was given and the ones it logged out. */
export class RecordingBackendClient extends BackendClient {
  readonly tokens: string[] = [];
  readonly loggedOut: string[] = [];
  override async enrollVerify(body: Parameters<BackendClient['enrollVerify']>[0]) {
    const reply = await super.enrollVerify(body);
    this.tokens.push(reply.token);
    return reply;
  }
  override async authVerify(body: Parameters<BackendClient['authVerify']>[0]) {
    const reply = await super.authVerify(body);
    this.tokens.push(reply.token);
    return reply;
  }
  override async deviceVerify(body: Parameters<BackendClient['deviceVerify']>[0]) {
    const reply = await super.deviceVerify(body);
    this.tokens.push(reply.token);
    return reply;
  }
  override async logout(token: string): Promise<boolean> {
    const ended = await super.logout(token);
    this.loggedOut.push(token);
    return ended;
  }
}

export interface PasskeyDesktop {
  auth: AuthService;
  backend: RecordingBackendClient;
  page: Page;
  dataDir: string;
  /** Runs the enrollment ceremony on the page; the test calls auth.enrollFinish with it. */
  createPasskey(clinicianId: string, code: string): Promise<{ response: RegistrationResponse; prfOutput?: string }>;
  /** Runs the sign-in ceremony on the page; the test calls auth.signInFinish with it. */
  usePasskey(): Promise<{ response: AuthenticationResponse; prfOutput?: string }>;
  close(): Promise<void>;
}

export async function passkeyDesktop(options: {
  browser: Browser;
  origin: string;
  backendUrl: string;
  dir: string;
  name: string;
  secrets: SecretStore;
  prf: boolean;
  clock?: () => number;
  /** The monotonic clock (idle lock, time floor); defaults to `clock` when only that is given. */
  monotonic?: () => number;
}): Promise<PasskeyDesktop> {
  const page = await options.browser.newPage();
  await addVirtualAuthenticator(page, { prf: options.prf });
  await addWebAuthnHelper(page);
  await page.goto(`${options.origin}/index.html`);
  const dataDir = join(options.dir, options.name);
  const backend = new RecordingBackendClient(options.backendUrl);
  const auth = new AuthService({ dataDir, secrets: options.secrets, backend, rpId: 'localhost', origins: [options.origin], ...(options.clock ? { clock: options.clock } : {}), ...(options.monotonic ? { monotonic: options.monotonic } : {}) });
  await auth.start();
  const ceremony = (fn: 'createPasskey' | 'usePasskey', opts: unknown) =>
    page.evaluate(([f, o]) => (globalThis as never as { __webauthn: Record<string, (o: unknown) => Promise<Json>> }).__webauthn[f]!(o), [fn, opts] as const);
  return {
    auth,
    backend,
    page,
    dataDir,
    async createPasskey(clinicianId, code) {
      const { options: creation } = await auth.enrollBegin(clinicianId, code);
      return (await ceremony('createPasskey', creation)) as unknown as { response: RegistrationResponse; prfOutput?: string };
    },
    async usePasskey() {
      const { options: request } = await auth.signInBegin();
      return (await ceremony('usePasskey', request)) as unknown as { response: AuthenticationResponse; prfOutput?: string };
    },
    async close() {
      await auth.quit(1000);
      await page.close();
    },
  };
}
