/**
 * The patient's one-time join link: `<public url>/join#call=<call id>&token=<token>`.
 * The call id and the one-time token travel in the URL FRAGMENT, which a
 * browser never sends in a request line, a Referer or a proxy log; the join
 * page reads it once and removes it from the address bar. Built by the
 * backend, parsed by the join page. Never put the token anywhere else in the
 * URL, and never log a link.
 */
import { JOIN_PAGE_PATH, callIdSchema, inviteTokenSchema } from './signaling-messages.ts';

/** The link for `callId` and `token` on the backend reachable at `publicUrl` (scheme, host, optional port and path prefix). */
export function buildJoinLink(publicUrl: string, callId: string, token: string): string {
  const fragment = new URLSearchParams({ call: callId, token }).toString();
  return `${publicUrl.replace(/\/+$/, '')}${JOIN_PAGE_PATH}#${fragment}`;
}

/** The call id and token of a join link's fragment (`location.hash`, with or without '#'); null when it is not one. */
export function parseJoinFragment(hash: string): { callId: string; token: string } | null {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const callId = callIdSchema.safeParse(params.get('call'));
  const token = inviteTokenSchema.safeParse(params.get('token'));
  return callId.success && token.success ? { callId: callId.data, token: token.data } : null;
}
