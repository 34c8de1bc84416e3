/** A draft's save state in words ("Draft kept on this computer · last typed 3 min ago"), announced politely. Never shows draft text. */
import { typedAgo, type DraftState } from './use-draft';

export function DraftStatus({ state, updatedAt }: { state: DraftState; updatedAt: string | null }) {
  const text =
    state === 'saving' ? 'Keeping the draft…'
      : state === 'failed' ? 'The draft could not be kept on this computer; keep this open and try again.'
        : state === 'saved' && updatedAt ? `Draft kept on this computer · ${typedAgo(updatedAt)}`
          : '';
  return (
    <p className={`draft-status${state === 'failed' ? ' error' : ''}`} role="status" aria-live="polite" data-testid="draft-status" data-state={state}>
      {text}
    </p>
  );
}
