/**
 * A participant of a consultation as the tests drive it: a real `ws`
 * WebSocket to the backend's signaling path (a clinician with the session's
 * Authorization header, a link guest without), every server message kept in
 * arrival order, and waits that resolve on a message or on the close, never
 * on a timer standing in for an event (the timer only bounds a wait that
 * would otherwise hang, and fails it).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import { callKeySignedBytes } from '../../shared/consult/call-key-signature';
import { SIGNALING_PATH, serverMessageSchema, type CallKey, type ServerMessage } from '../../shared/consult/signaling-messages';

export type Message = ServerMessage & Record<string, unknown>;

export class SignalingPeer {
  readonly messages: Message[] = [];
  /** Messages that did not match the protocol's serverMessageSchema (must stay empty). */
  readonly offSchema: unknown[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;
  readonly closedPromise: Promise<{ code: number; reason: string }>;
  /** HTTP status when the upgrade was refused. */
  refusedStatus: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const json = JSON.parse(String(data)) as unknown;
      if (!serverMessageSchema.safeParse(json).success) this.offSchema.push(json);
      this.messages.push(json as Message);
      this.notify();
    });
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        this.notify();
        resolve(this.closed);
      });
    });
    ws.on('unexpected-response', (_req, res) => {
      this.refusedStatus = res.statusCode ?? 0;
      this.notify();
      ws.terminate();
    });
    ws.on('error', () => undefined);
  }

  /** Opens the socket (resolves once open, or once the upgrade was refused). */
  static async open(baseUrl: string, token?: string): Promise<SignalingPeer> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${SIGNALING_PATH}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    const peer = new SignalingPeer(ws);
    await new Promise<void>((resolve) => {
      ws.once('open', () => resolve());
      ws.once('close', () => resolve());
      ws.once('unexpected-response', () => resolve());
    });
    return peer;
  }

  private notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The first message (from index `from`) matching `match`; fails if the socket closes first or after `ms`. */
  async next(match: (m: Message) => boolean, what: string, from = 0, ms = 10_000): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (this.closed || this.refusedStatus !== null) throw new Error(`${what}: socket closed (${this.closed?.code ?? this.refusedStatus}) before it came; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      if (Date.now() > deadline) throw new Error(`${what}: not received; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  type = (type: string, what = type, from = 0) => this.next((m) => m.type === type, what, from);

  /** The error that came, then the close (both must come). */
  async refused(what: string): Promise<{ error: Message; close: { code: number; reason: string } }> {
    const error = await this.next((m) => m.type === 'error', what).catch(async (e: unknown) => {
      const late = this.messages.find((m) => m.type === 'error');
      if (late) return late;
      throw e;
    });
    return { error, close: await this.closedPromise };
  }

  close(): void {
    this.ws.close();
  }
}

/** A clinician's device: its Ed25519 key (the enrolled device key) signs call keys. */
export function deviceKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** A fresh call public key (32 random bytes stand in for the X25519 key the media worker makes). */
export function callPublicKey(): Uint8Array {
  return new Uint8Array(generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
}

export function signedCallKey(callId: string, publicKey: Uint8Array, deviceKey: KeyObject): CallKey {
  return {
    publicKey: Buffer.from(publicKey).toString('base64url'),
    signature: sign(null, callKeySignedBytes(callId, publicKey), deviceKey).toString('base64url'),
  };
}

/** hello + join; resolves with the welcome. */
export async function joinAs(peer: SignalingPeer, callId: string, callKey: CallKey, token?: string): Promise<Message> {
  peer.send({ type: 'hello', callId, ...(token ? { token } : {}) });
  peer.send({ type: 'join', callKey });
  return peer.next((m) => m.type === 'welcome' || m.type === 'error', 'welcome');
}
