/**
 * The media stack for consultation tests: a real Janus (VideoRoom, HTTP API
 * on loopback) and a real coturn, started as child processes inside the test
 * run's network namespace (test/support/test-network.sh) on its media
 * address, with random secrets; ready when this resolves (no sleeps).
 * Must never run outside that namespace (it refuses without
 * CLINICIAN_MEDIA_ADDRESS) and never outlive the test: call stop().
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMediaServers, type MediaServers } from '../../build/media/media-servers.ts';

/** What a started stack gives a test: the same as `npm run media` (build/media/media-servers.ts). */
export type MediaStack = MediaServers;

/** The test network's media address; throws with a clear message outside test/run-tests.sh. */
export function testMediaAddress(): string {
  const address = process.env.CLINICIAN_MEDIA_ADDRESS;
  if (!address) throw new Error('media tests run inside the test network namespace: use test/run-tests.sh (CLINICIAN_MEDIA_ADDRESS is not set)');
  return address;
}

export async function startMediaStack(options: { recordDir?: string } = {}): Promise<MediaStack> {
  const mediaAddress = testMediaAddress();
  const workDir = mkdtempSync(join(tmpdir(), 'clinician-media-'));
  if (options.recordDir) mkdirSync(options.recordDir, { recursive: true });
  try {
    const servers = await startMediaServers({ mediaAddress, workDir, ...(options.recordDir ? { recordDir: options.recordDir } : {}) });
    return {
      ...servers,
      async stop() {
        await servers.stop();
        rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}
