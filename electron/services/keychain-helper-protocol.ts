/**
 * The messages between main and its keychain helper process
 * (keychain-helper.ts): one request names the keychain call, the answer
 * carries its result or the keychain's error text. Both sides parse what
 * they receive with these schemas. A secret travels only inside these
 * messages, over the helper's IPC channel: never in argv, the environment,
 * a file or a log.
 */
import { z } from 'zod';

const name = z.string().min(1).max(512);

export const keychainRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ id: z.number().int(), op: z.literal('get'), service: name, account: name }),
  z.strictObject({ id: z.number().int(), op: z.literal('set'), service: name, account: name, secret: z.string().max(1024 * 1024) }),
  z.strictObject({ id: z.number().int(), op: z.literal('delete'), service: name, account: name }),
]);
export type KeychainRequest = z.infer<typeof keychainRequestSchema>;

export const keychainReplySchema = z.union([
  z.strictObject({ id: z.number().int(), ok: z.literal(true), value: z.union([z.string(), z.boolean(), z.null()]) }),
  /** `error` is the keychain library's message (never a secret); main turns it into a typed error. */
  z.strictObject({ id: z.number().int(), ok: z.literal(false), error: z.string().max(2048) }),
]);
export type KeychainReply = z.infer<typeof keychainReplySchema>;
