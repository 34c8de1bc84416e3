/**
 * The encryption badge of a call, always on screen while the call panel is:
 * "End-to-end encrypted, code not yet checked", "… code checked", or a clear
 * failure ("This call cannot be end-to-end encrypted: <reason>. No media was
 * sent."). It never shows nothing and never says "encrypted" before the
 * engine does: there is no silent fallback to plain media to hide.
 */
import type { CallState } from './call-state';
import { encryptionWords } from './call-words';

export function EncryptionStatus({ state, reachedCall }: { state: CallState; reachedCall: boolean }) {
  const words = encryptionWords(state, reachedCall);
  return (
    <p
      className={`consult-encryption consult-encryption-${words.tone}`}
      role={words.tone === 'bad' ? 'alert' : 'status'}
      data-testid="consult-encryption"
      data-encryption={state.encryption}
    >
      <span className="consult-encryption-mark" aria-hidden="true">{words.tone === 'bad' ? '✕' : words.tone === 'ok' ? '✓' : '●'}</span>
      {words.text}
    </p>
  );
}
