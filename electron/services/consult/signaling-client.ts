/**
 * Main's WebSocket to the backend's consultation signaling (SIGNALING_PATH),
 * authenticated with the session's bearer token in the upgrade request's
 * Authorization header (the token never enters a URL, a message or the
 * renderer). Sends only schema-checked client messages, hands on only
 * schema-checked server messages (anything else is dropped and counted),
 * and reports its close once. It never reconnects on its own: a lost socket
 * is a closed call the renderer is told about, and it may connect again.
 * Never log a message, a token or a URL with a query here.
 */
import WebSocket from 'ws';
import { AppError } from '../../../shared/app-error';
import {
  SIGNALING_MESSAGE_MAX_BYTES,
  clientMessageSchema,
  serverMessageSchema,
  type ClientMessage,
  type ServerMessage,
} from '../../../shared/consult/signaling-messages';

export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A ping this often; a socket that answered none since the last one is cut (a dead network is a closed call, not a hang). */
export const HEARTBEAT_MS = 25_000;

/** Why the socket closed: the server closed it, the network dropped it, main closed it (leave, lock), or a bound was hit. */
export type CloseReason = 'server' | 'network' | 'local' | 'overflow';

export function unreachable(): AppError {
  return new AppError('CONSULT_UNAVAILABLE', 'The consultation service cannot be reached. Check the connection and try again.');
}

export function refused(): AppError {
  return new AppError('CONSULT_REFUSED', 'The hospital server refused to connect this consultation.');
}

/** The backend ended the session the socket was opened with (HTTP 401 on the upgrade). */
export class SignalingSessionEnded extends AppError {
  constructor() {
    super('CONSULT_UNAVAILABLE', 'Your session with the hospital server ended. Sign in again to join the consultation.');
  }
}

/** The upgrade's HTTP answer, as a typed error: refused (4xx), session ended (401), or unavailable (5xx, 429, anything else). */
function upgradeError(status: number | undefined): AppError {
  if (status === 401) return new SignalingSessionEnded();
  if (status !== undefined && status >= 400 && status < 500 && status !== 429) return refused();
  return unreachable();
}

/** ws(s)://… for the backend's http(s)://… base URL (keeping any path prefix the base has). */
export function signalingUrl(baseUrl: string, path: string): string {
  const url = new URL(path.replace(/^\//, ''), baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unreachable();
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export interface SignalingHandlers {
  /** A server message that passed the schema, with the size it came as. */
  message(message: ServerMessage, bytes: number): void;
  /** Once, whatever closed the socket. */
  closed(reason: CloseReason): void;
}

export interface SignalingOptions {
  url: string;
  token: string;
  handshakeTimeoutMs?: number;
  heartbeatMs?: number;
}

export class SignalingClient {
  /** Server messages dropped because they failed the schema (never their content). */
  dropped = 0;
  private closeReason: CloseReason | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private answered = true;

  private constructor(
    private readonly socket: WebSocket,
    private readonly handlers: SignalingHandlers,
    heartbeatMs: number,
  ) {
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('pong', () => (this.answered = true));
    socket.on('close', () => this.finish(this.closeReason ?? 'server'));
    // After open, an error is followed by close; the reason is the network's.
    socket.on('error', () => {
      if (this.closeReason === null) this.closeReason = 'network';
    });
    this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
    this.heartbeat.unref?.();
  }

  /**
   * Opens the socket. Resolves once it is open; rejects CONSULT_UNAVAILABLE
   * (no connection, a 5xx, a timeout), CONSULT_REFUSED (a 4xx on the
   * upgrade) or SignalingSessionEnded (401). `abort` closes it meanwhile.
   */
  static open(options: SignalingOptions, handlers: SignalingHandlers, abort?: AbortSignal): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(options.url, {
          headers: { authorization: `Bearer ${options.token}` },
          handshakeTimeout: options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
          maxPayload: SIGNALING_MESSAGE_MAX_BYTES,
          followRedirects: false,
          perMessageDeflate: false,
        });
      } catch {
        reject(unreachable());
        return;
      }
      let settled = false;
      const fail = (err: AppError) => {
        if (settled) return;
        settled = true;
        abort?.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.terminate();
        reject(err);
      };
      const onAbort = () => fail(new AppError('LOCKED', 'The app was locked while the consultation was connecting.'));
      if (abort?.aborted) return onAbort();
      abort?.addEventListener('abort', onAbort, { once: true });
      socket.once('unexpected-response', (request, response) => {
        const status = response.statusCode;
        response.resume();
        request.destroy();
        fail(upgradeError(status));
      });
      socket.once('error', () => fail(unreachable()));
      socket.once('close', () => fail(unreachable()));
      socket.once('open', () => {
        if (settled) return;
        settled = true;
        abort?.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        resolve(new SignalingClient(socket, handlers, options.heartbeatMs ?? HEARTBEAT_MS));
      });
    });
  }

  get open(): boolean {
    return this.closeReason === null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends one client message; CONSULT_UNAVAILABLE when the socket is gone, INVALID_INPUT when it fails the schema. */
  send(message: ClientMessage): void {
    const checked = clientMessageSchema.safeParse(message);
    if (!checked.success) throw new AppError('INVALID_INPUT', 'That consultation message is not valid.');
    const text = JSON.stringify(checked.data);
    if (Buffer.byteLength(text) > SIGNALING_MESSAGE_MAX_BYTES) throw new AppError('INVALID_INPUT', 'That consultation message is too large.');
    if (!this.open) throw new AppError('CONSULT_UNAVAILABLE', 'The consultation\'s connection is closed. Connect again to continue.');
    this.socket.send(text);
  }

  /** Closes from this side (leave, lock, overflow): what was sent before is flushed first; `closed` is reported at once. */
  close(reason: CloseReason = 'local'): void {
    if (this.closeReason === null) this.closeReason = reason;
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000);
    this.finish(this.closeReason);
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closeReason !== null) return;
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;
    if (isBinary) {
      this.dropped++;
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.dropped++;
      return;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.dropped++;
      return;
    }
    this.handlers.message(parsed.data, bytes);
  }

  private beat(): void {
    if (!this.open) return;
    if (!this.answered) {
      this.closeReason = 'network';
      this.socket.terminate();
      this.finish('network');
      return;
    }
    this.answered = false;
    this.socket.ping();
  }

  private reported = false;
  private finish(reason: CloseReason): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.closeReason === null) this.closeReason = reason;
    if (this.reported) return;
    this.reported = true;
    this.handlers.closed(this.closeReason);
  }
}
