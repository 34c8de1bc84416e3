/**
 * The messages main received on a call's signaling socket, waiting for the
 * renderer's consult.receive long polls: numbered in arrival order (n counts
 * up across calls, never reused), kept until the renderer asks for what
 * comes after them, and bounded. A queue that would grow past its bound is
 * not trimmed (a lost key or roster message would break the call without
 * anyone knowing): it reports the overflow and the caller closes the call.
 * A take waits for the first message after `after`, at most `waitMs`, and
 * returns early when one arrives or the queue closes (the socket closed, a
 * lock). Holds no secrets of its own; never log what it holds.
 */

export interface Numbered<T> {
  n: number;
  message: T;
}

export interface Taken<T> {
  messages: Numbered<T>[];
  closed: boolean;
}

export interface QueueLimits {
  /** Messages not yet taken past. */
  messages: number;
  /** Their size, in bytes of the JSON they came as. */
  bytes: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { messages: 512, bytes: 8 * 1024 * 1024 };

/** At most this many messages per take (a renderer far behind catches up over a few polls). */
export const MAX_TAKE = 64;

export class ReceiveQueue<T> {
  private readonly items: Array<Numbered<T> & { bytes: number }> = [];
  private bytes = 0;
  private isClosed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly nextNumber: () => number,
    private readonly limits: QueueLimits = DEFAULT_QUEUE_LIMITS,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /** Adds a message; false (nothing added) when the queue is closed or would exceed its bound. */
  push(message: T, bytes: number): boolean {
    if (this.isClosed) return false;
    if (this.items.length + 1 > this.limits.messages || this.bytes + bytes > this.limits.bytes) return false;
    this.items.push({ n: this.nextNumber(), message, bytes });
    this.bytes += bytes;
    this.wake();
    return true;
  }

  /** No more messages will come; waiting takes return at once (with what is left). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.wake();
  }

  /** Drops what the renderer has seen: every message numbered `after` or lower. */
  private acknowledge(after: number): void {
    while (this.items.length > 0 && this.items[0]!.n <= after) this.bytes -= this.items.shift()!.bytes;
  }

  private after(after: number): Numbered<T>[] {
    return this.items
      .filter((m) => m.n > after)
      .slice(0, MAX_TAKE)
      .map(({ n, message }) => ({ n, message }));
  }

  /** Messages numbered above `after`, waiting up to `waitMs` for the first; `closed` once nothing more can come. */
  async take(after: number, waitMs: number): Promise<Taken<T>> {
    this.acknowledge(after);
    let messages = this.after(after);
    if (messages.length === 0 && !this.isClosed && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(done);
      });
      messages = this.after(after);
    }
    // Closed only once the renderer has everything: the last messages (an error, `ended`) say why.
    return { messages, closed: this.isClosed && messages.length === 0 };
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
