/**
 * Runs the WebAuthn ceremonies in the renderer with @simplewebauthn/browser,
 * on options main fetched from the backend (or made locally when offline).
 * Asks for the PRF extension and hands its output to main separately from
 * the response, with the output removed from the response itself, so it is
 * never forwarded to the backend. Holds nothing after returning.
 */
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { CallInput } from '../../shared/contract';

type Json = Record<string, unknown>;

function base64urlToBytes(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytesToBase64url(bytes: ArrayBuffer | Uint8Array): string {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The browser API wants the PRF salt as bytes; the options arrive as JSON. */
function withPrfSaltBytes(options: Json): Json {
  const prf = (options.extensions as { prf?: { eval?: { first?: unknown } } } | undefined)?.prf;
  if (typeof prf?.eval?.first !== 'string') return options;
  return { ...options, extensions: { ...(options.extensions as Json), prf: { eval: { first: base64urlToBytes(prf.eval.first) } } } };
}

function splitPrf<T extends { clientExtensionResults: unknown }>(response: T): { response: T; prfOutput?: string } {
  const results = response.clientExtensionResults as { prf?: { enabled?: boolean; results?: { first?: ArrayBuffer | Uint8Array } } };
  const first = results.prf?.results?.first;
  const enabled = results.prf?.enabled === true || first !== undefined;
  const cleaned = { ...response, clientExtensionResults: enabled ? { prf: { enabled: true } } : {} };
  return first ? { response: cleaned, prfOutput: bytesToBase64url(first) } : { response: cleaned };
}

export async function createPasskey(options: Json): Promise<CallInput<'auth.enrollFinish'>> {
  const response = await startRegistration({ optionsJSON: withPrfSaltBytes(options) as never });
  return splitPrf(response) as unknown as CallInput<'auth.enrollFinish'>;
}

export async function usePasskey(options: Json): Promise<CallInput<'auth.signInFinish'>> {
  const response = await startAuthentication({ optionsJSON: withPrfSaltBytes(options) as never });
  return splitPrf(response) as unknown as CallInput<'auth.signInFinish'>;
}
