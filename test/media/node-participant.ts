/**
 * A call participant in the test process itself: it speaks the signaling
 * protocol over the backend's real WebSocket (hello with a one-time link
 * token, or a clinician's session), joins with its own ephemeral call key
 * pair (shared/consult/call-keys.ts) and opens the sender keys the other
 * participants' media workers seal to it, exactly as an invited participant
 * is entitled to. The recording test uses these keys for its control (a
 * participant's keys turn the recording into decodable frames, the media
 * server has none); the protocol tests use it to send what a browser would
 * not (garbled messages, a reused link). Like every participant it takes
 * part in each roster round's commit-then-reveal of the security code
 * (shared/consult/sas-round.ts), or the pages in its call would never show a
 * code. It sends no media and never logs a key, a token or a message body.
 */
import WebSocket from 'ws';
import { generateCallKeyPair, openSenderKey, type CallKeyPair } from '../../shared/consult/call-keys';
import { fromBase64url, toBase64url } from '../../shared/consult/base64url';
import { mediaKid } from '../../shared/consult/media-kid';
import { SIGNALING_PATH, serverMessageSchema, type Participant, type ServerMessage } from '../../shared/consult/signaling-messages';
import { deriveSFrameKey, type SFrameKey } from '../../shared/sframe';
import { SasRound } from '../../shared/consult/sas-round';

export interface NodeParticipantOptions {
  /** Backend base URL, http://host:port. */
  backendUrl: string;
  callId: string;
  /** A link guest's one-time token. */
  token?: string;
  /** A clinician's `Bearer …` session. */
  authorization?: string;
  /** The Origin header of the upgrade request (the backend checks it like a browser's). */
  origin?: string;
  /** Skip `join` (to test what happens to a socket that never joins properly). */
  joinWith?: { publicKey: string } | null;
}

export interface NodeParticipant {
  readonly keys: CallKeyPair;
  readonly publicKey: string;
  /** Every parsed server message so far, in order. */
  readonly messages: ServerMessage[];
  /** Raw text frames that did not parse (should stay empty). */
  readonly unparsed: string[];
  participantId(): string | null;
  roster(): Participant[];
  /** Everyone who was ever in the call while this participant was (the roster keeps only the present). */
  everyone(): Participant[];
  /** Resolves with the first message (already received or coming) that matches. */
  next<T extends ServerMessage['type']>(type: T, match?: (m: Extract<ServerMessage, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>;
  /** This round's security code once every participant revealed, else null. */
  code(): string | null;
  /** The SFrame key for a KID, if a sender sealed that key to this participant. */
  keyFor(kid: bigint): SFrameKey | undefined;
  /** How many sender keys were opened (and how many sealed keys failed to open). */
  keyCounts(): { opened: number; failed: number };
  sendRaw(data: string): void;
  closed(): Promise<{ code: number }>;
  close(): void;
}

export async function joinNodeParticipant(options: NodeParticipantOptions): Promise<NodeParticipant> {
  const keys = await generateCallKeyPair();
  const publicKey = toBase64url(keys.publicKey);
  const wsUrl = options.backendUrl.replace(/^http/, 'ws') + SIGNALING_PATH;
  const headers: Record<string, string> = {};
  if (options.authorization) headers.Authorization = options.authorization;
  const socket = new WebSocket(wsUrl, { headers, ...(options.origin ? { origin: options.origin } : {}) });
  const messages: ServerMessage[] = [];
  const unparsed: string[] = [];
  const waiters: Array<() => void> = [];
  const roster = new Map<string, Participant>();
  const seen = new Map<string, Participant>();
  const sfKeys = new Map<bigint, SFrameKey>();
  let self: string | null = null;
  let opened = 0;
  let failed = 0;
  let pending = Promise.resolve();
  const closed = new Promise<{ code: number }>((resolve) => socket.on('close', (code) => resolve({ code })));
  let sas: SasRound | null = null;
  let sasCode: string | null = null;

  // A new roster round (the seq of the latest welcome/joined/left, as on every page): a fresh nonce, its commitment sent.
  const newRound = async (round: number) => {
    sas = null;
    sasCode = null;
    if (!self || roster.size < 2) return;
    const started = await SasRound.start({
      callId: options.callId,
      round,
      selfId: self,
      participants: [...roster.values()].map((p) => ({
        participantId: p.participantId,
        index: p.index,
        role: p.role,
        displayName: p.displayName,
        publicKey: fromBase64url(p.callKey.publicKey),
      })),
    });
    sas = started;
    socket.send(JSON.stringify({ type: 'sas-commit', round, commitment: started.commitment }));
  };
  const sasMessage = async (m: Extract<ServerMessage, { type: 'sas-commit' | 'sas-reveal' }>) => {
    const round = sas;
    if (!round || m.from === self || m.round !== round.round) return;
    if (m.type === 'sas-commit') {
      if (round.commit(m.from, m.commitment)) socket.send(JSON.stringify({ type: 'sas-reveal', round: round.round, nonce: round.reveal() }));
    } else {
      const code = await round.accept(m.from, m.nonce);
      if (code) sasCode = code;
    }
  };

  const openKey = async (m: Extract<ServerMessage, { type: 'key' }>) => {
    const sender = roster.get(m.from);
    if (!sender || !self) {
      failed++;
      return;
    }
    try {
      const baseKey = await openSenderKey({
        callId: options.callId,
        from: m.from,
        to: self,
        epoch: m.epoch,
        recipient: keys,
        senderPublicKey: fromBase64url(sender.callKey.publicKey),
        enc: fromBase64url(m.enc),
        ciphertext: fromBase64url(m.ciphertext),
      });
      const kid = mediaKid(sender.index, m.epoch);
      sfKeys.set(kid, await deriveSFrameKey(4, kid, baseKey));
      opened++;
    } catch {
      failed++;
    }
  };

  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    let parsed;
    try {
      parsed = serverMessageSchema.safeParse(JSON.parse(text));
    } catch {
      unparsed.push(text.slice(0, 200));
      return;
    }
    if (!parsed.success) {
      unparsed.push(text.slice(0, 200));
      return;
    }
    const m = parsed.data;
    if (m.type === 'welcome') {
      self = m.participantId;
      for (const p of m.roster) {
        roster.set(p.participantId, p);
        seen.set(p.participantId, p);
      }
    } else if (m.type === 'joined') {
      roster.set(m.participant.participantId, m.participant);
      seen.set(m.participant.participantId, m.participant);
    }
    else if (m.type === 'left') roster.delete(m.participantId);
    // Keys are opened and rounds run in arrival order; the message is announced once handled.
    pending = pending.then(async () => {
      if (m.type === 'key') await openKey(m);
      if (m.type === 'welcome' || m.type === 'joined' || m.type === 'left') await newRound(m.seq);
      if (m.type === 'sas-commit' || m.type === 'sas-reveal') await sasMessage(m).catch(() => undefined);
      messages.push(m);
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`signaling upgrade refused: ${res.statusCode}`)));
  });
  socket.send(JSON.stringify({ type: 'hello', callId: options.callId, ...(options.token ? { token: options.token } : {}) }));
  if (options.joinWith !== null) socket.send(JSON.stringify({ type: 'join', callKey: options.joinWith ?? { publicKey } }));

  return {
    keys,
    publicKey,
    messages,
    unparsed,
    participantId: () => self,
    roster: () => [...roster.values()],
    everyone: () => [...seen.values()],
    next(type, match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${type}' message within ${timeoutMs} ms (got: ${messages.map((m) => m.type).join(',')})`)), timeoutMs);
        const look = () => {
          const found = messages.find((m) => m.type === type && (!match || match(m as never)));
          if (found) {
            clearTimeout(timer);
            resolve(found as never);
          } else waiters.push(look);
        };
        look();
      });
    },
    keyFor: (kid) => sfKeys.get(kid),
    code: () => sasCode,
    keyCounts: () => ({ opened, failed }),
    sendRaw: (data) => socket.send(data),
    closed: () => closed,
    close: () => socket.close(1000),
  };
}
