/**
 * The keychain helper: a small child process main forks to reach the OS
 * keychain with a connection of its own (keytar's libsecret keeps one D-Bus
 * connection per process, and after the keyring daemon restarts it keeps
 * talking to the dead daemon; a new process connects afresh). It answers
 * keychain calls that arrive on its IPC channel, one answer per request, and
 * exits when main goes away. It must never print, log or store a secret, and
 * takes requests from nothing but its IPC channel.
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

if (!process.send) {
  // Not forked with an IPC channel: there is nobody to answer.
  process.exit(2);
}
process.on('message', (message: unknown) => {
  const parsed = keychainRequestSchema.safeParse(message);
  if (!parsed.success) return;
  void answer(parsed.data).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
