/**
 * The workspace's keyboard shortcuts: "/" (when not typing) and Ctrl+K
 * focus the patient search, Ctrl+L locks. None fires while a dialog is open
 * (the dialog owns the keyboard), and "/" never fires in a field being typed
 * in. Esc is not here: dialogs, the search and the chart each own theirs.
 */
import { useEffect } from 'react';

function typingIn(target: EventTarget | null): boolean {
  const el = target instanceof HTMLElement ? target : null;
  return !!el && (el.isContentEditable || el.closest('input, textarea, select') !== null);
}

export function useShortcuts({ focusSearch, lock }: { focusSearch(): void; lock: (() => void) | null }): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const ctrl = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (lock && ctrl && key === 'l') {
        // Locking is always allowed, even from a dialog: drafts are in the cache.
        e.preventDefault();
        lock();
        return;
      }
      if (document.querySelector('dialog[open]')) return;
      if ((key === '/' && !ctrl && !typingIn(e.target)) || (ctrl && key === 'k')) {
        e.preventDefault();
        focusSearch();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [focusSearch, lock]);
}
