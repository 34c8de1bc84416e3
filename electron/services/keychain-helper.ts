/**
 * The keychain helper: a small child process main forks to reach the OS
 * keychain with a connection of its own (keytar's libsecret keeps one D-Bus
 * connection per process, and after the keyring daemon restarts it keeps
 * talking to the dead daemon; a new process connects afresh). It answers
 * keychain calls that arrive on its message channel, one answer per request,
 * and exits when main goes away. Started by Electron's utilityProcess in the
 * app (messages on process.parentPort) or by child_process.fork under Node
 * (process.send). It must never print, log or store a secret, and takes
 * requests from nothing but that channel.
 */
import keytar from 'keytar';
import { keychainRequestSchema, type KeychainReply, type KeychainRequest } from './keychain-helper-protocol';

async function answer(request: KeychainRequest): Promise<KeychainReply> {
  try {
    switch (request.op) {
      case 'get':
        return { id: request.id, ok: true, value: await keytar.getPassword(request.service, request.account) };
      case 'set':
        await keytar.setPassword(request.service, request.account, request.secret);
        return { id: request.id, ok: true, value: null };
      case 'delete':
        return { id: request.id, ok: true, value: await keytar.deletePassword(request.service, request.account) };
    }
  } catch (err) {
    return { id: request.id, ok: false, error: (err instanceof Error ? err.message : 'keychain error').slice(0, 2048) };
  }
}

function onRequest(message: unknown, reply: (answer: KeychainReply) => void): void {
  const parsed = keychainRequestSchema.safeParse(message);
  if (!parsed.success) return;
  void answer(parsed.data).then(reply);
}

/** Electron's utility process: its channel to main (absent under Node, whose types do not know it). */
interface ParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

if (parentPort) {
  // A utility process ends with the app that started it.
  parentPort.on('message', (event) => onRequest(event.data, (reply) => parentPort.postMessage(reply)));
} else if (process.send) {
  process.on('message', (message: unknown) => onRequest(message, (reply) => process.send?.(reply)));
  process.on('disconnect', () => process.exit(0));
} else {
  // Started with no channel: there is nobody to answer.
  process.exit(2);
}
