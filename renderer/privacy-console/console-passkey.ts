/**
 * The console's WebAuthn ceremonies (@simplewebauthn/browser) on options
 * from the console API. The console never asks for a PRF output (the
 * backend sends no PRF request at sign-in; at enrollment only whether PRF
 * is supported), and whatever extension output comes back is reduced to
 * "PRF enabled" before the response leaves the page.
 */
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';

type Json = Record<string, unknown>;

function onlyPrfEnabled<T extends { clientExtensionResults: unknown }>(response: T): T {
  const prf = (response.clientExtensionResults as { prf?: { enabled?: boolean } }).prf;
  return { ...response, clientExtensionResults: prf?.enabled === true ? { prf: { enabled: true } } : {} };
}

export async function signInWithPasskey(options: Json): Promise<Json> {
  return onlyPrfEnabled(await startAuthentication({ optionsJSON: options as never })) as unknown as Json;
}

export async function createConsolePasskey(options: Json): Promise<Json> {
  return onlyPrfEnabled(await startRegistration({ optionsJSON: options as never })) as unknown as Json;
}
