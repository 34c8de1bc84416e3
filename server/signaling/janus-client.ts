/**
 * A minimal client for Janus's HTTP API (loopback only): create a session,
 * attach a plugin handle, send plugin messages and wait for their
 * asynchronous events through the session's long poll, keep the session
 * alive, detach and destroy. One JanusSession per participant per backend
 * instance (media-server.ts decides).
 * Must never log or rethrow Janus's reason text (it carries room, feed and
 * handle ids): failures are JanusError with the numeric code only.
 */

/** A Janus failure: the Janus or plugin error code (0 = transport), never Janus's text. */
export class JanusError extends Error {
  readonly janusCode: number;
  constructor(janusCode: number) {
    super(`Janus request failed (${janusCode})`);
    this.name = 'JanusError';
    this.janusCode = janusCode;
  }
}

export interface JanusJsep {
  type: 'offer' | 'answer';
  sdp: string;
  e2ee?: boolean;
  trickle?: boolean;
}

export interface PluginReply {
  data: Record<string, unknown>;
  jsep?: JanusJsep;
}

interface JanusMessage {
  janus: string;
  transaction?: string;
  sender?: number;
  data?: { id?: number };
  error?: { code?: number };
  plugindata?: { plugin?: string; data?: Record<string, unknown> };
  jsep?: JanusJsep;
}

const KEEPALIVE_MS = 25_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** How long an asynchronous plugin request may take before we give up (Janus gathers its ICE candidates first). */
const EVENT_TIMEOUT_MS = 20_000;

let transactionCounter = 0;
function nextTransaction(): string {
  transactionCounter = (transactionCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `t${transactionCounter}-${Math.random().toString(36).slice(2, 10)}`;
}

async function postJson(url: string, body: Record<string, unknown>): Promise<JanusMessage> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    throw new JanusError(0);
  }
  if (!response.ok) throw new JanusError(0);
  try {
    return (await response.json()) as JanusMessage;
  } catch {
    throw new JanusError(0);
  }
}

function pluginErrorCode(data: Record<string, unknown> | undefined): number | null {
  if (!data) return null;
  const code = data['error_code'];
  if (typeof code === 'number') return code;
  if (typeof data['error'] === 'string') return -1;
  return null;
}

interface Waiter {
  resolve: (reply: PluginReply) => void;
  reject: (error: JanusError) => void;
  timer: NodeJS.Timeout;
}

/** One Janus session with its long poll and keepalive. */
export class JanusSession {
  private readonly waiters = new Map<string, Waiter>();
  private readonly listeners = new Map<number, Set<(data: Record<string, unknown>) => void>>();
  private readonly poll = new AbortController();
  private keepalive: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly baseUrl: string,
    private readonly apiSecret: string | undefined,
    readonly id: number,
  ) {}

  static async create(baseUrl: string, apiSecret?: string): Promise<JanusSession> {
    const reply = await postJson(baseUrl, JanusSession.withSecret({ janus: 'create', transaction: nextTransaction() }, apiSecret));
    if (reply.janus !== 'success' || typeof reply.data?.id !== 'number') throw new JanusError(reply.error?.code ?? 0);
    const session = new JanusSession(baseUrl, apiSecret, reply.data.id);
    session.keepalive = setInterval(() => {
      void postJson(session.sessionUrl, session.secret({ janus: 'keepalive', transaction: nextTransaction() })).catch(() => undefined);
    }, KEEPALIVE_MS);
    session.keepalive.unref();
    void session.longPoll();
    return session;
  }

  private static withSecret(body: Record<string, unknown>, apiSecret: string | undefined): Record<string, unknown> {
    return apiSecret ? { ...body, apisecret: apiSecret } : body;
  }

  private secret(body: Record<string, unknown>): Record<string, unknown> {
    return JanusSession.withSecret(body, this.apiSecret);
  }

  private get sessionUrl(): string {
    return `${this.baseUrl}/${this.id}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Attaches a handle to `plugin`; returns the handle id. */
  async attach(plugin: string): Promise<number> {
    const reply = await postJson(this.sessionUrl, this.secret({ janus: 'attach', plugin, transaction: nextTransaction() }));
    if (reply.janus !== 'success' || typeof reply.data?.id !== 'number') throw new JanusError(reply.error?.code ?? 0);
    return reply.data.id;
  }

  async detach(handle: number): Promise<void> {
    await postJson(`${this.sessionUrl}/${handle}`, this.secret({ janus: 'detach', transaction: nextTransaction() })).catch(() => undefined);
  }

  /**
   * Sends a plugin message and returns the plugin's reply: the synchronous
   * answer, or the asynchronous event carrying the same transaction.
   * A plugin error (error_code) rejects with that code.
   */
  async message(handle: number, body: Record<string, unknown>, jsep?: JanusJsep): Promise<PluginReply> {
    if (this.closed) throw new JanusError(0);
    const transaction = nextTransaction();
    const eventual = new Promise<PluginReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(transaction);
        reject(new JanusError(0));
      }, EVENT_TIMEOUT_MS);
      this.waiters.set(transaction, { resolve, reject, timer });
    });
    eventual.catch(() => undefined);
    let reply: JanusMessage;
    try {
      reply = await postJson(
        `${this.sessionUrl}/${handle}`,
        this.secret({ janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) }),
      );
    } catch (error) {
      this.settle(transaction, null, error as JanusError);
      throw error;
    }
    if (reply.janus === 'ack') return eventual;
    if (reply.janus === 'success') {
      this.settle(transaction, null, null);
      const data = reply.plugindata?.data ?? {};
      const code = pluginErrorCode(data);
      if (code !== null) throw new JanusError(code);
      return { data, ...(reply.jsep ? { jsep: reply.jsep } : {}) };
    }
    const error = new JanusError(reply.error?.code ?? 0);
    this.settle(transaction, null, error);
    throw error;
  }

  private settle(transaction: string, reply: PluginReply | null, error: JanusError | null): void {
    const waiter = this.waiters.get(transaction);
    if (!waiter) return;
    this.waiters.delete(transaction);
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else if (reply) waiter.resolve(reply);
  }

  /** Calls `listener` with the plugin data of every event Janus sends on `handle` (until the returned function is called). */
  onEvent(handle: number, listener: (data: Record<string, unknown>) => void): () => void {
    let set = this.listeners.get(handle);
    if (!set) this.listeners.set(handle, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(handle);
    };
  }

  private dispatch(event: JanusMessage): void {
    if (event.janus === 'event' && typeof event.sender === 'number') {
      for (const listener of this.listeners.get(event.sender) ?? []) listener(event.plugindata?.data ?? {});
    }
    if (!event.transaction || !this.waiters.has(event.transaction)) return;
    if (event.janus === 'event') {
      const data = event.plugindata?.data ?? {};
      const code = pluginErrorCode(data);
      if (code !== null) this.settle(event.transaction, null, new JanusError(code));
      else this.settle(event.transaction, { data, ...(event.jsep ? { jsep: event.jsep } : {}) }, null);
    } else if (event.janus === 'error') {
      this.settle(event.transaction, null, new JanusError(event.error?.code ?? 0));
    }
  }

  private async longPoll(): Promise<void> {
    while (!this.closed) {
      const query = new URLSearchParams({ maxev: '10', rid: String(Date.now()) });
      if (this.apiSecret) query.set('apisecret', this.apiSecret);
      try {
        const response = await fetch(`${this.sessionUrl}?${query}`, { signal: this.poll.signal });
        const body = (await response.json()) as JanusMessage | JanusMessage[];
        for (const event of Array.isArray(body) ? body : [body]) {
          if (event.janus === 'error' && !event.transaction) {
            // The session is gone (Janus restarted or it timed out).
            this.fail();
            return;
          }
          this.dispatch(event);
        }
      } catch {
        if (this.closed) return;
        this.fail();
        return;
      }
    }
  }

  private fail(): void {
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const [transaction] of this.waiters) this.settle(transaction, null, new JanusError(0));
  }

  /** Destroys the session on Janus (its handles go with it) and stops polling. */
  async destroy(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    await postJson(this.sessionUrl, this.secret({ janus: 'destroy', transaction: nextTransaction() })).catch(() => undefined);
    this.poll.abort();
    for (const [transaction] of this.waiters) this.settle(transaction, null, new JanusError(0));
  }
}
