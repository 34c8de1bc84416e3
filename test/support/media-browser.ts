/**
 * Chromium for media tests: Debian's Chromium through playwright-core with a
 * fake camera and microphone, no permission prompts, autoplay, and a host
 * resolver that answers nothing but localhost and the test addresses, so a
 * media test makes no DNS query and no packet leaves the test namespace.
 * Must never download a browser or use the real camera.
 */
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_FLAGS } from '../browser/harness.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The launch arguments of every media test's Chromium. */
export function mediaChromiumArgs(extra: readonly string[] = []): string[] {
  const addresses = [process.env.CLINICIAN_MEDIA_ADDRESS, process.env.CLINICIAN_CLIENT_ADDRESS].filter((a): a is string => !!a);
  const excluded = ['localhost', '127.0.0.1', ...addresses].map((host) => `EXCLUDE ${host}`).join(' , ');
  return [
    ...CHROMIUM_FLAGS,
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    `--host-resolver-rules=MAP * ~NOTFOUND , ${excluded}`,
    ...extra,
  ];
}

export function launchMediaChromium(extra: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: mediaChromiumArgs(extra), headless: true });
}
