/**
 * The console page's calls to its backend: same-origin fetches to the
 * console API with the console's request header (the backend's CSRF check)
 * and the HttpOnly session cookie the browser attaches on its own; the page
 * never sees or keeps a token. A refusal becomes a ConsoleError with the
 * backend's code and safe message; a 404 from the API means "not available
 * to you" (signed out, or not a privacy officer), never anything more.
 */
import { CONSOLE_REQUEST_HEADER } from '../../shared/privacy-console-api';

export class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { [CONSOLE_REQUEST_HEADER]: '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ConsoleError(0, 'OFFLINE', 'The hospital server cannot be reached. Check the connection and try again.');
  }
  if (!response.ok) {
    const error = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ConsoleError(response.status, error?.error?.code ?? 'FAILED', error?.error?.message ?? 'The request failed.');
  }
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await send('GET', path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return (await (await send('POST', path, body)).json()) as T;
}

/** Fetches an export and hands it to the browser as a download (a same-origin blob URL, revoked at once after). */
export async function download(path: string, fileName: string): Promise<void> {
  const blob = await (await send('GET', path)).blob();
  const url = URL.createObjectURL(blob);
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** True for the API's "not available" answer (no session, session ended, not a privacy officer). */
export const isNotAvailable = (err: unknown) => err instanceof ConsoleError && err.status === 404;
