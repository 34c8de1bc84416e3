/**
 * Starts Janus (VideoRoom over HTTP on loopback) and coturn (TURN REST
 * credentials) for consultations, each from a private config folder generated
 * from the templates beside this file, with random secrets per start. Used by
 * the tests (test/support/media-stack.ts) and by `npm run media`.
 * Must never use a default or fixed secret, never put a secret on a command
 * line (coturn reads it from a 600 file, Janus from its 600 config), never
 * wait by sleeping (readiness comes from the servers' own output), and never
 * hard-code an address: the media address is the caller's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const TEMPLATES = dirname(fileURLToPath(import.meta.url));
const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';
const READY_TIMEOUT_MS = 20_000;

export interface MediaServersOptions {
  /** The address media flows on (a real interface, not loopback: Janus ignores loopback). */
  mediaAddress: string;
  /** An empty private folder for the generated configs and secrets (created mode 700). */
  workDir: string;
  /** When set, the room recordings (.mjr) go here; passed to janusMediaServer, not to Janus's config. */
  recordDir?: string;
  /** Janus HTTP port on 127.0.0.1; default a free port. */
  janusPort?: number;
  /** coturn UDP/TCP listening port on the media address; default a free port. */
  turnPort?: number;
  /** TURN realm; default "clinician-consult". */
  realm?: string;
}

export interface MediaServers {
  /** Janus HTTP API base (loopback). */
  janusUrl: string;
  janusApiSecret: string;
  /** File (mode 600) holding janusApiSecret, for the backend's --janus-secret-file. */
  janusSecretFile: string;
  turnUrls: string[];
  turnSecret: string;
  /** File (mode 600) holding turnSecret, for the backend's --turn-secret-file. */
  turnSecretFile: string;
  mediaAddress: string;
  recordDir: string | undefined;
  /** Stops Janus only (coturn keeps relaying): the media server gone while the rest of the stack is up. stop() still stops both. */
  stopJanus(): Promise<void>;
  stop(): Promise<void>;
}

function fill(template: string, values: Record<string, string>): string {
  return readFileSync(join(TEMPLATES, template), 'utf8').replace(/@([A-Z_]+)@/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`media config: no value for ${whole}`);
    return value;
  });
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** A TCP port free on `host` (and free for UDP too when `udp`). */
async function freePort(host: string, udp: boolean): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!udp) return port;
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

interface Child {
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Spawns `command` and resolves once a line of its output matches `ready`;
 * rejects if it exits first or stays silent for READY_TIMEOUT_MS. The last
 * lines are kept only to explain a failed start (they hold no PHI: Janus and
 * coturn see ids and addresses only).
 */
function spawnUntilReady(name: string, command: string, args: string[], ready: RegExp): Promise<Child> {
  // setpriv --pdeathsig: the server dies with the process that started it, even if that one is killed outright.
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise<Child>((resolve, reject) => {
    let done = false;
    const finish = (error: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        void stop();
        reject(error);
      } else resolve({ process: child, stop });
    };
    const timer = setTimeout(() => finish(new Error(`${name} did not become ready:\n${tail.join('\n')}`)), READY_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (!done) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
          if (ready.test(line)) finish(null);
        }
      });
    }
    child.once('error', (error) => finish(new Error(`${name} could not start: ${error.message}`)));
    child.once('exit', (code, signal) => finish(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${tail.join('\n')}`)));
  });
}

/**
 * Janus prints its HTTP start line a moment before the server takes requests
 * (a request then may find the connection closed with nothing read, seen on a
 * loaded CI machine): a refused or dropped connection is "not yet", asked
 * again a bounded number of times; any answer is final.
 */
async function janusAnswers(url: string, apiSecret: string): Promise<void> {
  let response: Response | undefined;
  for (let attempt = 1; !response; attempt++) {
    try {
      response = await fetch(`${url}/info?apisecret=${encodeURIComponent(apiSecret)}`);
    } catch (error) {
      if (attempt >= JANUS_INFO_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * Math.min(attempt, 5)));
    }
  }
  const body = (await response.json()) as { janus?: string; plugins?: Record<string, unknown> };
  if (body.janus !== 'server_info' || !body.plugins || !('janus.plugin.videoroom' in body.plugins)) {
    throw new Error('Janus answered /info without the VideoRoom plugin');
  }
}

const JANUS_INFO_ATTEMPTS = 40;

/** Generates the configs and starts Janus and coturn; both are ready when this resolves. */
export async function startMediaServers(options: MediaServersOptions): Promise<MediaServers> {
  const { mediaAddress, workDir } = options;
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  chmodSync(workDir, 0o700);

  // Janus: a private config folder whose plugin and transport folders hold only what we use.
  const janusDir = join(workDir, 'janus');
  for (const sub of ['plugins', 'transports', 'events', 'loggers']) mkdirSync(join(janusDir, sub), { recursive: true, mode: 0o700 });
  symlinkSync(join(JANUS_LIB, 'plugins', 'libjanus_videoroom.so'), join(janusDir, 'plugins', 'libjanus_videoroom.so'));
  symlinkSync(join(JANUS_LIB, 'transports', 'libjanus_http.so'), join(janusDir, 'transports', 'libjanus_http.so'));
  const janusApiSecret = randomBytes(24).toString('base64url');
  const janusPort = options.janusPort ?? (await freePort('127.0.0.1', false));
  writePrivate(
    join(janusDir, 'janus.jcfg'),
    fill('janus.jcfg.template', {
      CONFIG_DIR: janusDir,
      API_SECRET: janusApiSecret,
      RTP_PORT_RANGE: '20000-29999',
      MEDIA_ADDRESS: mediaAddress,
    }),
  );
  writePrivate(join(janusDir, 'janus.transport.http.jcfg'), fill('janus.transport.http.jcfg.template', { HTTP_PORT: String(janusPort) }));
  writePrivate(join(janusDir, 'janus.plugin.videoroom.jcfg'), fill('janus.plugin.videoroom.jcfg.template', {}));
  const janusSecretFile = join(workDir, 'janus-api-secret');
  writePrivate(janusSecretFile, janusApiSecret);

  // coturn: its whole config (with the secret) in a 600 file, nothing secret on the command line.
  const turnDir = join(workDir, 'coturn');
  mkdirSync(turnDir, { recursive: true, mode: 0o700 });
  const turnSecret = randomBytes(32).toString('base64url');
  const turnPort = options.turnPort ?? (await freePort(mediaAddress, true));
  const turnConfig = join(turnDir, 'turnserver.conf');
  writePrivate(
    turnConfig,
    fill('turnserver.conf.template', {
      MEDIA_ADDRESS: mediaAddress,
      TURN_PORT: String(turnPort),
      RELAY_MIN_PORT: '30000',
      RELAY_MAX_PORT: '39999',
      TURN_SECRET: turnSecret,
      REALM: options.realm ?? 'clinician-consult',
      ALLOWED_PEER_IP: mediaAddress,
      CONFIG_DIR: turnDir,
    }),
  );
  const turnSecretFile = join(workDir, 'turn-secret');
  writePrivate(turnSecretFile, turnSecret);

  // Readiness is the HTTP transport's own start line (log level 4, the
  // lowest that prints it); the output is read and dropped, never stored.
  const janus = await spawnUntilReady('janus', 'janus', ['-F', janusDir], /HTTP webserver started/);
  const janusUrl = `http://127.0.0.1:${janusPort}/janus`;
  let turn: Child | undefined;
  try {
    await janusAnswers(janusUrl, janusApiSecret);
    turn = await spawnUntilReady('coturn', 'turnserver', ['-c', turnConfig, '--verbose'], /UDP listener opened on/);
  } catch (error) {
    await janus.stop();
    throw error;
  }
  const started = turn;
  return {
    janusUrl,
    janusApiSecret,
    janusSecretFile,
    turnUrls: [`turn:${mediaAddress}:${turnPort}?transport=udp`],
    turnSecret,
    turnSecretFile,
    mediaAddress,
    recordDir: options.recordDir,
    async stopJanus() {
      await janus.stop();
    },
    async stop() {
      await Promise.all([janus.stop(), started.stop()]);
    },
  };
}
