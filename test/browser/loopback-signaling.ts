/**
 * A stand-in for the backend's signaling and the media server in the
 * call-engine browser tests that exercise the engine, the transforms and
 * the media worker between two pages without Janus: a WebSocket relay
 * speaking the real protocol (shared/consult/signaling-messages.ts) that
 * joins two participants and turns A's `publish` offer into B's
 * subscription `offer` (and B's `answer` into A's `published`), so the
 * two pages are connected directly. Hooks let a test tamper with what it
 * relays. The tests through the real backend and Janus are in
 * call-engine-janus.browser.test.ts.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  SIGNALING_PATH,
  clientMessageSchema,
  type ClientMessage,
  type Participant,
  type ServerMessage,
} from '../../shared/consult/signaling-messages';

interface Member {
  socket: WebSocket;
  participant: Participant;
}

export interface LoopbackSignaling {
  /** Every client message received, in order (type only for hello/join). */
  readonly received: ClientMessage[];
  /** Number of sockets ever opened. */
  connections: number;
  /** Changes a message before it is delivered to `to` (return it unchanged by default). */
  tamper: (to: Participant, message: ServerMessage) => ServerMessage;
  /** Refuse this many `subscribe` requests first (as Janus does for a moment after a publisher starts). */
  refuseSubscriptions: number;
  close(): void;
}

export function attachLoopbackSignaling(server: Server): LoopbackSignaling {
  const wss = new WebSocketServer({ noServer: true });
  const members: Member[] = [];
  const offers = new Map<string, ClientMessage & { type: 'publish' }>();
  let seq = 0;
  const relay: LoopbackSignaling = {
    received: [],
    connections: 0,
    tamper: (_to, message) => message,
    refuseSubscriptions: 0,
    close: () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
  const send = (member: Member, message: ServerMessage) => member.socket.send(JSON.stringify(relay.tamper(member.participant, message)));
  const others = (self: Member) => members.filter((m) => m !== self);

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== SIGNALING_PATH) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      relay.connections += 1;
      let me: Member | null = null;
      let callId = '';
      ws.on('message', (data) => {
        const parsed = clientMessageSchema.safeParse(JSON.parse(String(data)));
        if (!parsed.success) {
          ws.send(JSON.stringify({ type: 'error', code: 'INVALID_MESSAGE', message: 'Invalid message.' }));
          return;
        }
        const message = parsed.data;
        relay.received.push(message);
        switch (message.type) {
          case 'hello':
            callId = message.callId;
            return;
          case 'join': {
            const participant: Participant = {
              participantId: randomBytes(12).toString('base64url'),
              role: members.length === 0 ? 'host' : 'patient',
              displayName: members.length === 0 ? 'Clinician' : 'Patient',
              callKey: message.callKey,
              devicePublicKey: null,
              index: members.length,
            };
            me = { socket: ws, participant };
            members.push(me);
            // One seq for the join, as the backend does: the welcome and everyone's joined name the same roster round.
            const joinSeq = ++seq;
            send(me, {
              type: 'welcome',
              seq: joinSeq,
              callId,
              participantId: participant.participantId,
              roster: members.map((m) => m.participant),
              iceServers: [],
              feeds: [...offers.keys()],
            });
            for (const other of others(me)) send(other, { type: 'joined', seq: joinSeq, participant });
            return;
          }
        }
        if (!me) return;
        const self: Member = me;
        switch (message.type) {
          case 'key': {
            const to = members.find((m) => m.participant.participantId === message.to);
            if (to) send(to, { type: 'key', seq: ++seq, from: self.participant.participantId, epoch: message.epoch, enc: message.enc, ciphertext: message.ciphertext });
            return;
          }
          case 'publish':
            offers.set(self.participant.participantId, message);
            for (const other of others(self)) send(other, { type: 'feed', seq: ++seq, participantId: self.participant.participantId });
            return;
          case 'subscribe': {
            if (relay.refuseSubscriptions > 0) {
              relay.refuseSubscriptions -= 1;
              send(self, { type: 'error', code: 'NOT_ALLOWED', message: 'That participant has no media to receive.' });
              return;
            }
            const offer = offers.get(message.feed);
            if (offer) send(self, { type: 'offer', feed: message.feed, jsep: offer.jsep });
            return;
          }
          case 'answer': {
            const publisher = members.find((m) => m.participant.participantId === message.feed);
            if (publisher) send(publisher, { type: 'published', jsep: message.jsep });
            return;
          }
          case 'code-confirmed':
            for (const other of others(self)) send(other, { type: 'code-confirmed', seq: ++seq, participantId: self.participant.participantId, round: message.round, code: message.code });
            return;
          case 'sas-commit':
          case 'sas-reveal': {
            const from = self.participant.participantId;
            const relayed = message.type === 'sas-commit'
              ? { type: 'sas-commit' as const, seq: ++seq, from, round: message.round, commitment: message.commitment }
              : { type: 'sas-reveal' as const, seq: ++seq, from, round: message.round, nonce: message.nonce };
            for (const other of others(self)) send(other, relayed);
            return;
          }
          case 'leave':
          case 'end':
            members.splice(members.indexOf(self), 1);
            for (const other of members) {
              send(other, message.type === 'end' ? { type: 'ended', seq: ++seq, reason: 'host-ended' } : { type: 'left', seq: ++seq, participantId: self.participant.participantId });
            }
            return;
        }
      });
    });
  });
  return relay;
}
