/**
 * Signaling for the patient's join page: a WebSocket to the page's own
 * origin at SIGNALING_PATH, authenticated by `hello` with the one-time
 * invitation token the join page read from the URL fragment (the token is
 * never put in a URL, a log or the page's state). Every message from the
 * server is parsed with the shared schema; one that does not parse is
 * dropped, never acted on.
 */
import { SIGNALING_PATH, serverMessageSchema, type ClientMessage } from '../../shared/consult/signaling-messages';
import { callError, type CallError, type CallErrorCode } from './call-state';
import { TransportError, type SignalingEvents, type SignalingTransport } from './signaling-transport';

export interface SocketTransportOptions {
  callId: string;
  /** The one-time invitation token (from the URL fragment). */
  token: string;
  /** Defaults to ws(s)://<this page's host>SIGNALING_PATH. */
  url?: string;
}

function ownOriginSocketUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${SIGNALING_PATH}`;
}

export function socketTransport({ callId, token, url }: SocketTransportOptions): SignalingTransport {
  let socket: WebSocket | null = null;
  let left = false;
  /** The last signaling error before a close, so the close says why. */
  let lastError: CallError | null = null;

  function sendRaw(message: ClientMessage): void {
    if (!socket || socket.readyState !== WebSocket.OPEN) throw new TransportError(callError('CONNECTION_LOST'));
    socket.send(JSON.stringify(message));
  }

  return {
    connect(publicKey: string, events: SignalingEvents) {
      return new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url ?? ownOriginSocketUrl());
        socket = ws;
        let opened = false;
        ws.onopen = () => {
          opened = true;
          try {
            sendRaw({ type: 'hello', callId, token });
            sendRaw({ type: 'join', callKey: { publicKey } });
            resolve();
          } catch (error) {
            reject(error);
          }
        };
        ws.onmessage = (event) => {
          if (typeof event.data !== 'string') return;
          let parsed;
          try {
            parsed = serverMessageSchema.safeParse(JSON.parse(event.data));
          } catch {
            return;
          }
          if (!parsed.success) return;
          if (parsed.data.type === 'error') lastError = callError(parsed.data.code as CallErrorCode);
          if (!left) events.message(parsed.data);
        };
        ws.onclose = () => {
          socket = null;
          if (!opened) {
            reject(new TransportError(callError('CONNECTION_LOST')));
            return;
          }
          if (!left) events.closed(lastError ?? callError('CONNECTION_LOST'));
        };
      });
    },
    async send(message) {
      sendRaw(message);
    },
    async leave(end) {
      left = true;
      const ws = socket;
      if (!ws) return;
      try {
        sendRaw(end ? { type: 'end' } : { type: 'leave' });
      } finally {
        ws.close(1000);
      }
    },
  };
}
