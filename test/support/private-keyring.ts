/**
 * A D-Bus session bus and a gnome-keyring daemon of the test's own (in a
 * throwaway HOME), so a test can do to the keychain what an operator or the
 * OS does: kill the daemon and start a new one on the same bus with the same
 * password (the keyring file persists), lock the login keyring over the
 * Secret Service, and unlock it again through the daemon's control socket as
 * PAM does at a screen unlock. The password is random and stays in this
 * process; nothing touches the keyring `npm test` started or the user's own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { scratchDir } from './scratch';

export interface PrivateKeyring {
  /** The bus address: a process using this keyring needs it as DBUS_SESSION_BUS_ADDRESS. */
  readonly busAddress: string;
  /** The running daemon's process id (asked of the bus). */
  daemonPid(): number;
  /** Kills the daemon (SIGKILL, as a crash), waits for it to be gone, and starts a new one on the same bus. */
  restart(): Promise<void>;
  /** Locks the login keyring (org.freedesktop.Secret.Service.Lock). */
  lock(): void;
  /** Unlocks the login keyring with its password over the daemon's control socket (what PAM does). */
  unlock(): Promise<void>;
  /** Whether the login keyring is locked (the collection's Locked property). */
  isLocked(): boolean;
  stop(): Promise<void>;
}

export async function startPrivateKeyring(): Promise<PrivateKeyring> {
  const dir = scratchDir('keyring');
  const home = join(dir.path, 'home');
  const runtime = join(dir.path, 'runtime');
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const password = randomBytes(24).toString('base64');
  const bus = spawnSync('dbus-daemon', ['--session', '--print-address=1', '--print-pid=1', '--fork'], { encoding: 'utf8' });
  if (bus.status !== 0) throw new Error(`dbus-daemon did not start: ${bus.stderr}`);
  const [busAddress, busPidText] = bus.stdout.trim().split('\n');
  const busPid = Number(busPidText);
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, '.local', 'share'), XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: busAddress!, DISPLAY: '' };

  const gdbus = (args: string[]) => execFileSync('gdbus', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const startDaemon = () => {
    const started = spawnSync('gnome-keyring-daemon', ['--unlock', '--components=secrets'], { env, input: password, stdio: ['pipe', 'ignore', 'ignore'] });
    if (started.status !== 0) throw new Error('gnome-keyring-daemon did not start');
    // Returns once the daemon owns its name on the bus (an event, not a pause).
    gdbus(['wait', '--session', '--timeout', '20', 'org.freedesktop.secrets']);
  };
  const daemonPid = () =>
    Number(/uint32 (\d+)/.exec(gdbus(['call', '--session', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.GetConnectionUnixProcessID', 'org.freedesktop.secrets']))![1]);
  const gone = async (pid: number) => {
    // The daemon is not our child, so there is no exit event to wait on: check until the kernel says it is gone.
    for (let i = 0; i < 1000; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the keyring daemon did not exit');
  };
  const collection = '/org/freedesktop/secrets/collection/login';

  startDaemon();
  return {
    busAddress: busAddress!,
    daemonPid,
    async restart() {
      const pid = daemonPid();
      process.kill(pid, 'SIGKILL');
      await gone(pid);
      startDaemon();
      if (daemonPid() === pid) throw new Error('the keyring daemon was not replaced');
    },
    lock() {
      gdbus(['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path', '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.Lock', `['${collection}']`]);
    },
    isLocked() {
      return gdbus(['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path', collection, '--method', 'org.freedesktop.DBus.Properties.Get', 'org.freedesktop.Secret.Collection', 'Locked']).includes('true');
    },
    unlock() {
      // gnome-keyring's control protocol (pam/gkr-pam-client.c): a credentials byte, then
      // [length][op UNLOCK=1][password length][password], all big-endian uint32; the answer is [8][result].
      return new Promise<void>((resolve, reject) => {
        const secret = Buffer.from(password, 'utf8');
        const packet = Buffer.alloc(12 + secret.length);
        packet.writeUInt32BE(packet.length, 0);
        packet.writeUInt32BE(1, 4);
        packet.writeUInt32BE(secret.length, 8);
        secret.copy(packet, 12);
        const socket = connect(join(runtime, 'keyring', 'control'));
        const chunks: Buffer[] = [];
        socket.on('connect', () => socket.end(Buffer.concat([Buffer.from([0]), packet])));
        socket.on('data', (d) => chunks.push(d));
        socket.on('error', reject);
        socket.on('close', () => {
          const answer = Buffer.concat(chunks);
          if (answer.length === 8 && answer.readUInt32BE(4) === 0) resolve();
          else reject(new Error('the keyring daemon refused to unlock'));
        });
      });
    },
    async stop() {
      try {
        const pid = daemonPid();
        process.kill(pid, 'SIGTERM');
        await gone(pid);
      } catch {
        // already gone
      }
      try {
        process.kill(busPid, 'SIGTERM');
      } catch {
        // already gone
      }
      dir.remove();
    },
  };
}
