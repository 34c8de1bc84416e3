/**
 * Electron glue: starts the keychain helper (services/keychain-helper.ts,
 * bundled as keychain-helper.cjs) as an Electron utility process. The
 * packaged app's RunAsNode fuse is off, so child_process.fork of the Electron
 * binary cannot run Node; a utility process is Electron's own way to run a
 * Node script beside main. Stdout is dropped and stderr kept (the helper
 * prints nothing secret); requests and answers travel only as messages, never
 * in argv or the environment.
 */
import { utilityProcess } from 'electron';
import type { HelperLauncher } from './services/keychain-helper-process';

export const utilityProcessHelper: HelperLauncher = (modulePath) => {
  const child = utilityProcess.fork(modulePath, [], { serviceName: 'Clinician Desktop keychain', stdio: ['ignore', 'ignore', 'inherit'] });
  let gone = false;
  const goneListeners: Array<() => void> = [];
  const markGone = () => {
    if (gone) return;
    gone = true;
    for (const listener of goneListeners) listener();
  };
  child.on('exit', markGone);
  child.on('error', markGone);
  return {
    get pid() {
      return child.pid;
    },
    send: (request, failed) => {
      if (gone) {
        failed();
        return;
      }
      child.postMessage(request);
    },
    onMessage: (listener) => void child.on('message', listener),
    onGone: (listener) => void goneListeners.push(listener),
    // A utility process never keeps Electron's main process alive: nothing to hold or release.
    hold: () => undefined,
    release: () => undefined,
    kill: () => void child.kill(),
  };
};
