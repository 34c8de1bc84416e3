/**
 * Delivery of a call's stored events to the participants connected to THIS
 * backend instance, in seq order: each member has a cursor (the last seq it
 * was given); a pump per call reads the events after the lowest cursor from
 * consult_events and hands each member the events after its own cursor that
 * are for everyone or for it alone. A pump is woken in-process after a local
 * write (the SQLite default, one instance) and, on PostgreSQL, by LISTEN on a
 * dedicated connection: another instance's transaction NOTIFYs "<call
 * id>:<seq>" and this instance reads the event from the table, so
 * participants on different instances sharing one PostgreSQL see the same
 * ordered stream. A lost listening connection is made again, and every room
 * is pumped once it is (nothing is lost: the table is the truth).
 * Never put a message into a NOTIFY payload, and never log one.
 */
import pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import type { Db } from '../database';
import { errorCodeOf } from '../database-retry';
import { operationsEvent } from '../monitoring/operations-log';
import { EVENTS_CHANNEL, eventsAfter, type StoredEvent } from './call-store';

export interface RelayMember {
  readonly callId: string;
  readonly participantId: string;
  /** The last seq this member was given (its join seq at first). */
  cursor: number;
  /** Sends the event; may detach the member (an `ended`, its own `left`). */
  deliver(event: StoredEvent): void;
}

interface Room {
  members: Set<RelayMember>;
  pumping: boolean;
  again: boolean;
}

const BATCH = 200;
/** Without a listening connection on PostgreSQL (no URL given), rooms with members are read this often. */
const FALLBACK_POLL_MS = 500;

export interface CallRelayOptions {
  engine: 'sqlite' | 'postgres';
  /** PostgreSQL: the connection string for the dedicated LISTEN connection. */
  databaseUrl?: string | undefined;
}

export class CallRelay {
  private readonly rooms = new Map<string, Room>();
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private poll: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly options: CallRelayOptions,
  ) {}

  /** Adds a member (its cursor already at its join seq) and delivers what followed its join. */
  attach(member: RelayMember): void {
    let room = this.rooms.get(member.callId);
    if (!room) this.rooms.set(member.callId, (room = { members: new Set(), pumping: false, again: false }));
    room.members.add(member);
    this.ensureListening();
    this.wake(member.callId);
  }

  detach(member: RelayMember): void {
    const room = this.rooms.get(member.callId);
    if (!room) return;
    room.members.delete(member);
    if (room.members.size === 0 && !room.pumping) this.rooms.delete(member.callId);
  }

  /** A new event of `callId` was stored (here or, through NOTIFY, elsewhere): deliver it. */
  wake(callId: string): void {
    const room = this.rooms.get(callId);
    if (!room) return;
    if (room.pumping) {
      room.again = true;
      return;
    }
    room.pumping = true;
    void (async () => {
      try {
        do {
          room.again = false;
          await this.drain(callId, room);
        } while (room.again && !this.closed);
      } catch (err) {
        const code = errorCodeOf(err);
        operationsEvent('database-unavailable', code ? { code } : {});
        // Try again shortly: the events stay in the table.
        setTimeout(() => this.wake(callId), 1000).unref();
      } finally {
        room.pumping = false;
        if (room.members.size === 0) this.rooms.delete(callId);
      }
    })();
  }

  private async drain(callId: string, room: Room): Promise<void> {
    for (;;) {
      if (room.members.size === 0) return;
      const from = Math.min(...[...room.members].map((m) => m.cursor));
      const batch = await eventsAfter(this.db, callId, from, BATCH);
      for (const event of batch) {
        for (const member of [...room.members]) {
          if (member.cursor >= event.seq) continue;
          member.cursor = event.seq;
          if (event.recipient === null || event.recipient === member.participantId) member.deliver(event);
        }
      }
      if (batch.length < BATCH) return;
    }
  }

  private ensureListening(): void {
    if (this.options.engine !== 'postgres' || this.closed) return;
    if (!this.options.databaseUrl) {
      this.poll ??= setInterval(() => {
        for (const callId of this.rooms.keys()) this.wake(callId);
      }, FALLBACK_POLL_MS);
      this.poll.unref();
      return;
    }
    this.listening ??= this.listen();
  }

  /** Keeps one LISTEN connection up while the relay is open; after each (re)connect every room is pumped. */
  private async listen(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      const client = new pg.Client({ connectionString: this.options.databaseUrl, keepAlive: true });
      const lost = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          const code = errorCodeOf(err);
          operationsEvent('database-connection-lost', code ? { code } : {});
          resolve();
        });
        client.on('end', () => resolve());
      });
      client.on('notification', (msg) => {
        const callId = msg.payload?.split(':')[0];
        if (callId) this.wake(callId);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${EVENTS_CHANNEL}`);
        this.listener = client;
        attempt = 0;
        // Whatever was stored while no connection listened.
        for (const callId of this.rooms.keys()) this.wake(callId);
        await lost;
      } catch (err) {
        const code = errorCodeOf(err);
        operationsEvent('database-connection-lost', code ? { code } : {});
      }
      this.listener = null;
      await client.end().catch(() => undefined);
      if (!this.closed) await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }

  /** Whether the LISTEN connection is up (PostgreSQL) or not needed (SQLite). */
  get ready(): boolean {
    return this.options.engine !== 'postgres' || !this.options.databaseUrl || this.listener !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    this.rooms.clear();
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.listening?.catch(() => undefined);
  }
}
