/**
 * The command-line switches a release build refuses to start with. Each one
 * lets whoever starts the app (any local user, a shortcut or a launcher they
 * edited) attach to it or weaken it, and stays in force once the clinician
 * unlocks patient records: remote debugging over the Chrome DevTools
 * Protocol, the Node inspector, the sandbox, web security or certificate
 * checks off, V8 flags, a wrapper around every child process, and logs or
 * TLS key logs written to a file. The app needs none of them.
 *
 * A switch counts when Chromium parsed it (app.commandLine.hasSwitch) or when
 * process.argv carries it as Chromium or Node would read it (`--name`,
 * `-name`, `--name=value`, any case), so neither parse can hide it from the
 * other. Not refused: --enable-features / --disable-features and the like
 * (Electron and Chromium keep their own feature state beside them, so whether
 * the browser process ever sees them set by itself is not verifiable here; a
 * false refusal would stop every clinician), proxy and host-resolver switches
 * (TLS still checks the backend's certificate), --user-data-dir.
 * Must never import electron (electron/main.ts binds it), and never
 * print a switch's value (a path or an origin, not ours to show).
 */

export interface RefusedSwitch {
  /** Bare, lower-case switch name (without dashes or value). */
  readonly name: string;
  readonly why: string;
}

const CDP = 'opens the Chrome DevTools Protocol: whoever connects drives every window and reads the unlocked records';
const NODE_INSPECTOR = "opens Node's inspector on the main process, which holds the cache key and the session token";
const SANDBOX = 'turns off the renderer or GPU process sandbox';
const LOGS = 'writes Chromium or network logs (URLs, headers) to a file outside the encrypted cache';

export const REFUSED_LAUNCH_SWITCHES: readonly RefusedSwitch[] = [
  { name: 'remote-debugging-port', why: CDP },
  { name: 'remote-debugging-pipe', why: CDP },
  { name: 'remote-debugging-address', why: `${CDP} (on another interface)` },
  { name: 'remote-allow-origins', why: `lets web pages connect to the DevTools endpoint: ${CDP}` },
  { name: 'auto-open-devtools-for-tabs', why: 'opens DevTools on every window in a release build' },
  { name: 'inspect', why: NODE_INSPECTOR },
  { name: 'inspect-brk', why: NODE_INSPECTOR },
  { name: 'inspect-brk-node', why: NODE_INSPECTOR },
  { name: 'inspect-port', why: NODE_INSPECTOR },
  { name: 'inspect-wait', why: NODE_INSPECTOR },
  { name: 'inspect-publish-uid', why: NODE_INSPECTOR },
  { name: 'debug', why: `${NODE_INSPECTOR} (older spelling)` },
  { name: 'debug-brk', why: `${NODE_INSPECTOR} (older spelling)` },
  { name: 'js-flags', why: 'passes flags to V8 (natives syntax, JIT and heap mitigations off) in every process' },
  { name: 'no-sandbox', why: SANDBOX },
  { name: 'disable-gpu-sandbox', why: SANDBOX },
  { name: 'disable-setuid-sandbox', why: SANDBOX },
  { name: 'disable-namespace-sandbox', why: SANDBOX },
  { name: 'disable-seccomp-filter-sandbox', why: SANDBOX },
  { name: 'no-zygote', why: `${SANDBOX} (only runs with the sandbox off)` },
  { name: 'single-process', why: 'runs the renderer inside the main process: no process or sandbox boundary' },
  { name: 'in-process-gpu', why: 'runs the GPU process inside the main process: no process or sandbox boundary' },
  { name: 'renderer-cmd-prefix', why: 'runs every renderer under a command of the caller\'s choosing (a debugger, a tracer)' },
  { name: 'gpu-launcher', why: 'runs the GPU process under a command of the caller\'s choosing' },
  { name: 'utility-cmd-prefix', why: 'runs every utility process (the keychain helper) under a command of the caller\'s choosing' },
  { name: 'disable-web-security', why: 'turns off the same-origin policy and CORS in the renderer' },
  { name: 'allow-running-insecure-content', why: 'lets an https page run scripts loaded over plain http' },
  { name: 'allow-file-access-from-files', why: 'lets file: pages read other local files' },
  { name: 'unsafely-treat-insecure-origin-as-secure', why: 'treats a plain-http origin as secure (WebAuthn, media capture)' },
  { name: 'disable-site-isolation-trials', why: 'turns off site isolation' },
  { name: 'ignore-certificate-errors', why: 'accepts any TLS certificate: the backend and update server can be impersonated' },
  { name: 'ignore-certificate-errors-spki-list', why: 'accepts TLS certificates by a key the caller names: the backend can be impersonated' },
  { name: 'allow-insecure-localhost', why: 'accepts invalid TLS certificates on localhost' },
  { name: 'ssl-key-log-file', why: 'writes the TLS session keys to a file: captured traffic (tokens, records) can be decrypted' },
  { name: 'enable-logging', why: LOGS },
  { name: 'log-file', why: LOGS },
  { name: 'log-net-log', why: LOGS },
  { name: 'v', why: `${LOGS} (verbose)` },
  { name: 'vmodule', why: `${LOGS} (verbose)` },
];

/** The switch name an argv entry carries as Chromium or Node reads it (`--name`, `-name`, `--name=value`), or null. */
function switchName(arg: string): string | null {
  const m = /^--?([A-Za-z0-9][A-Za-z0-9_-]*)(?:=|$)/.exec(arg);
  return m ? m[1]!.toLowerCase() : null;
}

/** Names of the refused switches present, each once, in the order of REFUSED_LAUNCH_SWITCHES; [] when none. */
export function refusedLaunchSwitches(hasSwitch: (name: string) => boolean, argv: readonly string[]): string[] {
  const inArgv = new Set(argv.slice(1).map(switchName).filter((name): name is string => name !== null));
  return REFUSED_LAUNCH_SWITCHES.filter(({ name }) => inArgv.has(name) || hasSwitch(name)).map(({ name }) => name);
}
