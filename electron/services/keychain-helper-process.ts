/**
 * Main's handle on one keychain helper process (keychain-helper.ts): starts
 * it on first use, sends it keychain calls over its message channel and
 * matches the answers. The helper lives while it works (one process, not one
 * per call: starting one takes a good part of a second) and is replaced when
 * a call through it fails; it never keeps main alive (its channel is unref'd
 * while nothing is asked) and exits when main does. How the process starts is
 * a launcher: under Node (tests, the command line) child_process.fork; in the
 * app Electron's utilityProcess (electron/keychain-helper-glue.ts), because
 * the packaged app's RunAsNode fuse is off, so a fork of the Electron binary
 * would start a second app, not Node. Never pass a secret in argv or the
 * environment, and never log a request or an answer.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { keychainReplySchema, type KeychainReply, type KeychainRequest } from './keychain-helper-protocol';

/** A call that waits longer than this (a wedged daemon) ends the helper; a keychain prompt the user answers fits well inside. */
const CALL_TIMEOUT_MS = 120_000;

export type HelperCall = { op: 'get'; service: string; account: string } | { op: 'set'; service: string; account: string; secret: string } | { op: 'delete'; service: string; account: string };

/** The helper's module: bundled beside main (dist/electron), or the TypeScript source under tsx (tests, the command line). */
export function keychainHelperModule(): string {
  if (typeof __dirname === 'string') return join(__dirname, 'keychain-helper.cjs');
  return join(import.meta.dirname, 'keychain-helper.ts');
}

/** One running helper as KeychainHelperProcess sees it, whatever started it. */
export interface HelperChild {
  readonly pid: number | undefined;
  /** Sends one request; `failed` runs if it could not be delivered. */
  send(request: KeychainRequest, failed: () => void): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Runs once when the process ends or cannot start. */
  onGone(listener: () => void): void;
  /** Keep main alive while a call waits / let it exit while nothing is asked. */
  hold(): void;
  release(): void;
  kill(): void;
}

export type HelperLauncher = (modulePath: string) => HelperChild;

/** Under Node: child_process.fork with an IPC channel (JSON), stdout ignored, stderr inherited (the helper prints nothing secret). */
export const forkHelper: HelperLauncher = (modulePath) => {
  const child = fork(modulePath, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
  return {
    get pid() {
      return child.pid;
    },
    send: (request, failed) => {
      child.send(request, (err) => {
        if (err) failed();
      });
    },
    onMessage: (listener) => void child.on('message', listener),
    onGone: (listener) => {
      let done = false;
      const once = () => {
        if (done) return;
        done = true;
        listener();
      };
      child.on('exit', once);
      child.on('error', once);
    },
    hold: () => {
      child.ref();
      child.channel?.ref();
    },
    release: () => {
      child.unref();
      child.channel?.unref();
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
};

interface Pending {
  resolve(reply: KeychainReply): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class KeychainHelperProcess {
  private child: HelperChild | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Whether this helper answered a call without a keychain error (then a later failure may be a restarted daemon). */
  answered = false;

  constructor(
    private readonly modulePath: string = keychainHelperModule(),
    /** Replaced by the app (setKeychainHelperLauncher in secret-store.ts) before the first keychain call. */
    public launch: HelperLauncher = forkHelper,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): HelperChild {
    const child = this.launch(this.modulePath);
    child.onMessage((message: unknown) => {
      const parsed = keychainReplySchema.safeParse(message);
      if (!parsed.success) return;
      const waiting = this.pending.get(parsed.data.id);
      if (!waiting) return;
      this.settle(parsed.data.id);
      waiting.resolve(parsed.data);
    });
    const gone = () => {
      // A helper already replaced (stop) had its calls failed then; these belong to its successor.
      if (this.child !== child) return;
      this.child = null;
      this.failAll(new Error('The keychain helper ended.'));
    };
    child.onGone(gone);
    this.child = child;
    this.idle();
    return child;
  }

  /** One keychain call through the helper; rejects (plain Error, no secret) if the helper dies or stalls. */
  call(call: HelperCall): Promise<KeychainReply> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    const request: KeychainRequest = { id, ...call };
    return new Promise<KeychainReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop();
        reject(new Error('The keychain helper did not answer.'));
      }, CALL_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      child.hold();
      child.send(request, () => {
        this.settle(id);
        reject(new Error('The keychain helper could not be reached.'));
      });
    });
  }

  /** Ends the helper (a new one starts at the next call). */
  stop(): void {
    const child = this.child;
    this.child = null;
    this.failAll(new Error('The keychain helper was stopped.'));
    child?.kill();
  }

  private settle(id: number): void {
    const waiting = this.pending.get(id);
    if (waiting) clearTimeout(waiting.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) this.idle();
  }

  /** Nothing asked: the helper must not keep main (a test, the command line) running. */
  private idle(): void {
    this.child?.release();
  }

  private failAll(err: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
