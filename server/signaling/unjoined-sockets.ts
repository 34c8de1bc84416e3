/**
 * Two guards of the signaling WebSocket against unauthenticated floods:
 * UnjoinedSockets caps the sockets that have not joined a call yet, per
 * remote address and overall (beyond a cap the socket is closed at once,
 * 1013 "try again later"); RefusalLog aggregates the security log lines of
 * refusals on /consult/ws: at most one line per event and address per
 * window, the first at once, then one line with the count of the others at
 * the end of each window in which there were some.
 * Never log a message, a token, a call id or a patient id.
 */
import { securityEvent, type SecurityEventFields, type SecurityEventName } from '../monitoring/security-log';

export class UnjoinedSockets {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(private readonly caps: { perAddress: number; total: number }) {}

  /** Takes a place for a new socket from `address`; false beyond a cap (nothing taken). */
  take(address: string): boolean {
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.caps.perAddress || this.total >= this.caps.total) return false;
    this.byAddress.set(address, mine + 1);
    this.total++;
    return true;
  }

  /** Gives the place back (the socket joined or closed). */
  release(address: string): void {
    const mine = this.byAddress.get(address) ?? 0;
    if (mine <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, mine - 1);
    if (mine > 0) this.total--;
  }
}

interface Window {
  counted: number;
  fields: SecurityEventFields;
  timer: NodeJS.Timeout;
}

export class RefusalLog {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly windowMs: number) {}

  /** One refusal: logged at once if it is the first of its event and address in a window, else counted. */
  note(event: SecurityEventName, fields: SecurityEventFields): void {
    const key = `${event}\u0000${fields.ip ?? ''}`;
    const open = this.windows.get(key);
    if (open) {
      open.counted++;
      open.fields = fields;
      return;
    }
    securityEvent(event, { ...fields, count: 1 });
    this.windows.set(key, { counted: 0, fields, timer: this.timer(key, event) });
  }

  private timer(key: string, event: SecurityEventName): NodeJS.Timeout {
    const t = setTimeout(() => {
      const w = this.windows.get(key);
      if (!w) return;
      if (w.counted === 0) {
        this.windows.delete(key);
        return;
      }
      securityEvent(event, { ...w.fields, count: w.counted });
      // The line just written opens the next window.
      w.counted = 0;
      w.timer = this.timer(key, event);
    }, this.windowMs);
    t.unref();
    return t;
  }

  /** Writes what is still counted (at shutdown). */
  close(): void {
    for (const [key, w] of this.windows) {
      clearTimeout(w.timer);
      if (w.counted > 0) securityEvent(key.split('\u0000')[0] as SecurityEventName, { ...w.fields, count: w.counted });
    }
    this.windows.clear();
  }
}
