/**
 * A release build refuses to start with a Chromium, Electron or Node switch
 * that would let a local user attach to or weaken the running app once the
 * clinician unlocks it (remote debugging over CDP, the Node inspector, the
 * sandbox or web security off, V8 flags, logs and TLS key logs to a file):
 * refusedLaunchSwitches names every such switch however it is written.
 *
 * Stand-in: app.commandLine.hasSwitch (Chromium's own parse of the command
 * line) cannot run here without the Electron binary; a set of parsed switch
 * names stands in for it, and process.argv is given as Electron would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFUSED_LAUNCH_SWITCHES, refusedLaunchSwitches } from '../electron/services/launch-switches';
import { ROOT } from './support/cache-cli';

const none = (): boolean => false;
const parsed = (...names: string[]) => (name: string): boolean => names.includes(name);
const EXE = '/opt/Clinician Desktop/clinician-desktop';

test('an ordinary start (no switches, or harmless ones) is not refused', () => {
  assert.deepEqual(refusedLaunchSwitches(none, [EXE]), []);
  assert.deepEqual(refusedLaunchSwitches(none, [EXE, '--lang=en-GB', '--force-device-scale-factor=1.5', '--ozone-platform=wayland']), []);
  // A path argument that merely contains a switch's name is not a switch.
  assert.deepEqual(refusedLaunchSwitches(none, [EXE, '/home/dr/no-sandbox.txt', 'remote-debugging-port']), []);
});

test('every attach-or-weaken switch written in argv is refused, in each form Chromium and Node accept', () => {
  const cases: Array<[string, string]> = [
    ['--remote-debugging-port=9222', 'remote-debugging-port'],
    ['--remote-debugging-port', 'remote-debugging-port'],
    ['-remote-debugging-pipe', 'remote-debugging-pipe'],
    ['--REMOTE-DEBUGGING-PORT=0', 'remote-debugging-port'],
    ['--remote-debugging-address=0.0.0.0', 'remote-debugging-address'],
    ['--remote-allow-origins=*', 'remote-allow-origins'],
    ['--no-sandbox', 'no-sandbox'],
    ['--disable-gpu-sandbox', 'disable-gpu-sandbox'],
    ['--disable-web-security', 'disable-web-security'],
    ['--ignore-certificate-errors', 'ignore-certificate-errors'],
    ['--inspect', 'inspect'],
    ['--inspect=127.0.0.1:9229', 'inspect'],
    ['--inspect-brk=0', 'inspect-brk'],
    ['--inspect-port=9229', 'inspect-port'],
    ['--js-flags=--allow-natives-syntax', 'js-flags'],
    ['--enable-logging=file', 'enable-logging'],
    ['--log-file=/tmp/x.log', 'log-file'],
    ['--log-net-log=/tmp/net.json', 'log-net-log'],
    ['--ssl-key-log-file=/tmp/keys', 'ssl-key-log-file'],
    ['--auto-open-devtools-for-tabs', 'auto-open-devtools-for-tabs'],
    ['--renderer-cmd-prefix=gdb --args', 'renderer-cmd-prefix'],
  ];
  for (const [arg, name] of cases) {
    assert.deepEqual(refusedLaunchSwitches(none, [EXE, arg]), [name], `${arg} is refused as ${name}`);
  }
});

test("a switch Chromium parsed (app.commandLine.hasSwitch) is refused even when argv does not show it", () => {
  assert.deepEqual(refusedLaunchSwitches(parsed('remote-debugging-port'), [EXE]), ['remote-debugging-port']);
  assert.deepEqual(refusedLaunchSwitches(parsed('no-sandbox', 'js-flags'), [EXE]), ['js-flags', 'no-sandbox']);
});

test('several refused switches are all named, each once, in the order of the list', () => {
  const got = refusedLaunchSwitches(parsed('no-sandbox'), [EXE, '--no-sandbox', '--remote-debugging-port=9222', '--inspect']);
  assert.deepEqual(got, REFUSED_LAUNCH_SWITCHES.map((s) => s.name).filter((n) => ['no-sandbox', 'remote-debugging-port', 'inspect'].includes(n)));
  assert.equal(new Set(got).size, got.length);
});

test('every refused switch says why, and names are bare lower-case switch names', () => {
  assert.ok(REFUSED_LAUNCH_SWITCHES.length > 20);
  for (const { name, why } of REFUSED_LAUNCH_SWITCHES) {
    assert.match(name, /^[a-z0-9][a-z0-9-]*$/, name);
    assert.ok(why.length > 20, `${name} says why`);
  }
});

test('main refuses them before anything else in a release build and quits (the binary cannot run here, so its source is read)', () => {
  const main = readFileSync(join(ROOT, 'electron', 'main.ts'), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  const check = main.indexOf('refusedLaunchSwitches(');
  assert.ok(check > 0, 'main calls refusedLaunchSwitches');
  assert.match(main, /refusedLaunchSwitches\(\s*\(name\)\s*=>\s*app\.commandLine\.hasSwitch\(name\),\s*process\.argv\s*\)/);
  assert.match(main, /DEVELOPMENT_BUILD\s*\?\s*\[\]\s*:\s*refusedLaunchSwitches/);
  for (const later of ['app.enableSandbox(', 'requestSingleInstanceLock(', 'whenReady(']) {
    assert.ok(main.indexOf(later) > check, `${later} comes after the check`);
  }
  assert.match(main, /dialog\.showErrorBox\([^)]*refused/);
  assert.match(main, /app\.exit\(1\)/);
});
