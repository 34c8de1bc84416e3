/**
 * The call engine's one door to signaling, implemented twice: over main's
 * consult.* calls on the desktop (main holds the socket and the session
 * token, and signs the call key) and over a WebSocket to the page's own
 * origin on the patient's join page (one-time token from the URL fragment).
 * It carries only the protocol's messages: public keys, sealed (opaque) key
 * ciphertexts, SDP. Never a media key, and never a token to the engine.
 */
import type { ClientMessage, ServerMessage } from '../../shared/consult/signaling-messages';
import type { CallError } from './call-state';

/** What the engine may send; hello and join are the transport's own (connect). */
export type OutgoingMessage = Exclude<ClientMessage, { type: 'hello' } | { type: 'join' }>;

export interface SignalingEvents {
  /** Every server message, in the order received. */
  message(message: ServerMessage): void;
  /** The connection is gone (error set when it did not close on our leave). */
  closed(error: CallError | null): void;
}

export interface SignalingTransport {
  /** Authenticate and join the call with this worker's call public key (base64url). Rejects with a TransportError. */
  connect(publicKey: string, events: SignalingEvents): Promise<void>;
  send(message: OutgoingMessage): Promise<void>;
  /** Leave the call, or end it for everyone (host); closes the connection. */
  leave(end: boolean): Promise<void>;
}

/** A transport failure as a typed value (code + safe message). */
export class TransportError extends Error {
  constructor(readonly error: CallError) {
    super(error.message);
    this.name = 'TransportError';
  }
}
