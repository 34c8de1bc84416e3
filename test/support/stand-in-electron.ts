/**
 * A stand-in for Electron's unpacked Linux distribution (the real binary
 * cannot be downloaded here), for `electron-builder --linux dir
 * -c.electronDist=<folder>`. Its `electron` file is a tiny shell script that
 * carries a real fuse wire, in the format @electron/fuses reads and writes:
 * the sentinel, the schema version byte (1), the wire length byte, then one
 * ASCII '0'/'1' per fuse. The wire starts as Electron 45 ships it, so the
 * fuses electron-builder flips are real flips, not a read-back of our own
 * values.
 *
 * Must never pretend to be anything it cannot: it does not start an app.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** @electron/fuses' SENTINEL (constants.ts): where the wire starts in the Electron binary. */
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
export const FUSE_WIRE_VERSION = 1;

/**
 * Electron 45's default wire (electron/build/fuses/fuses.json5), by index:
 * 0 run_as_node 1, 1 cookie_encryption 0, 2 node_options 1, 3 node_cli_inspect 1,
 * 4 embedded_asar_integrity_validation 0, 5 only_load_app_from_asar 0,
 * 6 load_browser_process_specific_v8_snapshot 0,
 * 7 grant_file_protocol_extra_privileges 1, 8 wasm_trap_handlers 1 (added in
 * Electron 41+; @electron/fuses 1.8 has no name for it and leaves it alone).
 */
export const ELECTRON_45_DEFAULT_WIRE = '101100011';

/** Makes the stand-in folder inside `parent`; returns its path. */
export function makeStandInElectron(parent: string): string {
  const dir = join(parent, 'electron-stand-in');
  mkdirSync(join(dir, 'resources'), { recursive: true });
  const wire = Buffer.concat([Buffer.from(FUSE_SENTINEL, 'latin1'), Buffer.from([FUSE_WIRE_VERSION, ELECTRON_45_DEFAULT_WIRE.length]), Buffer.from(ELECTRON_45_DEFAULT_WIRE, 'latin1')]);
  const script = Buffer.concat([Buffer.from('#!/bin/sh\n# Stand-in for the Electron binary (tests only). Fuse wire: '), wire, Buffer.from('\necho "stand-in Electron: cannot run the app" >&2\nexit 1\n')]);
  writeFileSync(join(dir, 'electron'), script);
  chmodSync(join(dir, 'electron'), 0o755);
  writeFileSync(join(dir, 'LICENSE'), 'Stand-in for Electron (MIT).\n');
  writeFileSync(join(dir, 'version'), '45.4.1');
  return dir;
}
