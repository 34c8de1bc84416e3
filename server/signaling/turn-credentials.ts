/**
 * Short-lived TURN credentials for one participant of one call, in the
 * shared-secret TURN REST scheme coturn checks with --use-auth-secret:
 * username `<expiry unix seconds>:<user>`, credential
 * base64(HMAC-SHA1(secret, username)). The backend issues them per call so a
 * leaked credential dies within ttlSeconds.
 * Must never log or return the secret itself, and `user` must be an opaque
 * participant id, never a name or patient identifier (coturn logs usernames).
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../../shared/consult/signaling-messages.ts';

export interface TurnSettings {
  /** turn: URLs of the TURN server (from configuration, never hard-coded), e.g. `turn:10.231.0.1:3478?transport=udp`. */
  urls: readonly string[];
  /** coturn's static-auth-secret. */
  secret: string;
  /** Lifetime of an issued credential. */
  ttlSeconds: number;
}

/** A TURN ICE server entry valid for `user` until now + ttlSeconds. */
export function turnCredentials(settings: TurnSettings, user: string, now: Date): IceServer {
  if (settings.urls.length === 0) throw new Error('TURN urls are empty');
  if (!settings.secret) throw new Error('TURN secret is empty');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(user)) throw new Error('TURN user must be an opaque id');
  if (!Number.isInteger(settings.ttlSeconds) || settings.ttlSeconds <= 0) throw new Error('TURN ttlSeconds must be a positive integer');
  const expiry = Math.floor(now.getTime() / 1000) + settings.ttlSeconds;
  const username = `${expiry}:${user}`;
  const credential = createHmac('sha1', settings.secret).update(username).digest('base64');
  return { urls: [...settings.urls], username, credential };
}
