/**
 * The origins the privacy console's passkey ceremonies may come from: the
 * backend's public address (the console is served by the backend itself),
 * and, when that address is a loopback IP (development, tests), the same
 * port under the name localhost, since WebAuthn refuses IP addresses as
 * relying party ids. Only the console's own sign-in accepts these; the
 * desktop's sign-in keeps its own origins.
 */
export function consoleOrigins(publicUrl: string | undefined): string[] {
  if (!publicUrl) return [];
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return [];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [];
  const origins = [url.origin];
  if (url.hostname === '127.0.0.1' || url.hostname === '[::1]') origins.push(`${url.protocol}//localhost${url.port ? `:${url.port}` : ''}`);
  return origins;
}
