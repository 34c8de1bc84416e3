/**
 * `npm run media`: starts Janus and coturn for development from generated
 * configs with random secrets (build/media/media-servers.ts), prints the
 * backend flags that point at them, and stops both on Ctrl+C.
 * The media address must be given (--media-address or
 * CLINICIAN_MEDIA_ADDRESS): a real interface address of this machine, not
 * loopback (Janus ignores loopback for media). Never prints a secret, only
 * the 600 files that hold them.
 *
 *   npm run media -- --media-address 192.168.1.20 [--janus-port 8088] [--turn-port 3478] [--record-dir DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isIPv4 } from 'node:net';
import { startMediaServers } from './media-servers.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'media-address': { type: 'string' },
      'janus-port': { type: 'string' },
      'turn-port': { type: 'string' },
      'record-dir': { type: 'string' },
    },
  });
  const mediaAddress = values['media-address'] ?? process.env.CLINICIAN_MEDIA_ADDRESS;
  if (!mediaAddress || !isIPv4(mediaAddress) || mediaAddress.startsWith('127.')) {
    throw new Error('give --media-address (or CLINICIAN_MEDIA_ADDRESS): an IPv4 address of a real interface of this machine (not loopback: Janus ignores it)');
  }
  const port = (flag: 'janus-port' | 'turn-port') => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${flag} must be a port number`);
    return n;
  };
  const janusPort = port('janus-port');
  const turnPort = port('turn-port');
  const recordDir = values['record-dir'] ? resolve(values['record-dir']) : undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'clinician-media-dev-'));
  const servers = await startMediaServers({
    mediaAddress,
    workDir,
    ...(janusPort ? { janusPort } : {}),
    ...(turnPort ? { turnPort } : {}),
    ...(recordDir ? { recordDir } : {}),
  });
  const flags = [
    `--janus-url ${servers.janusUrl}`,
    `--janus-secret-file ${servers.janusSecretFile}`,
    ...(recordDir ? [`--janus-record-dir ${recordDir}`] : []),
    ...servers.turnUrls.map((url) => `--turn-url '${url}'`),
    `--turn-secret-file ${servers.turnSecretFile}`,
  ];
  process.stdout.write(
    `Janus (VideoRoom, HTTP on 127.0.0.1) and coturn (TURN REST, UDP on ${mediaAddress}) are running.\n` +
      `Start the backend with:\n  npm run server -- ${flags.join(' ')}\n` +
      'Secrets are random for this start and live in the files above (mode 600). Ctrl+C stops both.\n',
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void servers.stop().finally(() => {
      rmSync(workDir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`media: ${error instanceof Error ? error.message : 'failed'}\n`);
  process.exit(1);
});
