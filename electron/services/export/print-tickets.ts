/**
 * Prepared prints waiting for print.output: each id is a random uuid, used
 * once, valid for PRINT_TICKET_MS, and bound to the patient, the output
 * chosen, the cache session that audited it and the window that prepared it.
 * Only in memory: a lock (a new session) or a restart forgets them all.
 * Never hand a ticket to another window, and never let one be used twice.
 */
import { randomUUID } from 'node:crypto';
import type { Caller } from '../caller-policy';
import { originOf } from '../caller-policy';

export const PRINT_TICKET_MS = 2 * 60_000;

export interface PrintTicket {
  patientId: string;
  output: 'pdf' | 'printer';
  /** The session that read and audited the chart (a lock ends it). */
  session: object;
  window: { origin: string | null; windowId: number | undefined };
  expiresAt: number;
}

export class PrintTickets {
  private readonly tickets = new Map<string, PrintTicket>();

  constructor(private readonly now: () => number) {}

  issue(ticket: Omit<PrintTicket, 'expiresAt' | 'window'>, caller: Caller): string {
    this.sweep();
    const id = randomUUID();
    this.tickets.set(id, { ...ticket, window: windowOf(caller), expiresAt: this.now() + PRINT_TICKET_MS });
    return id;
  }

  /** The ticket, removed (single use), if it exists, has not expired, and belongs to this caller's window and session; else null. */
  take(id: string, caller: Caller, session: object): PrintTicket | null {
    this.sweep();
    const ticket = this.tickets.get(id);
    if (!ticket) return null;
    const w = windowOf(caller);
    // Someone else's id is not consumed: the window that prepared it may still print it.
    if (ticket.window.windowId !== w.windowId || ticket.window.origin !== w.origin || ticket.session !== session) return null;
    this.tickets.delete(id);
    return ticket;
  }

  get size(): number {
    this.sweep();
    return this.tickets.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, t] of this.tickets) if (t.expiresAt <= now) this.tickets.delete(id);
  }
}

function windowOf(caller: Caller): PrintTicket['window'] {
  return { origin: originOf(caller.url), windowId: caller.windowId };
}
