/**
 * Keeps Tab and Shift+Tab inside the <dialog> that holds `inside`: from the
 * last stop to the first and back. Of a radio group only the checked radio
 * (or the first, when none is checked) is a stop, as the browser does;
 * hidden controls are not stops. Never moves focus on any other key.
 */
import { useEffect, type RefObject } from 'react';

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function useTabTrap(inside: RefObject<HTMLElement | null>): void {
  useEffect(() => {
    const dialog = inside.current?.closest('dialog');
    if (!dialog) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Tab') return;
      const all = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
      const stops = all.filter((el) => {
        if (!(el instanceof HTMLInputElement) || el.type !== 'radio') return true;
        const group = all.filter((g): g is HTMLInputElement => g instanceof HTMLInputElement && g.type === 'radio' && g.name === el.name);
        return el.checked || (!group.some((g) => g.checked) && group[0] === el);
      });
      const first = stops[0];
      const last = stops[stops.length - 1];
      if (!first || !last) return;
      if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      } else if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      }
    };
    dialog.addEventListener('keydown', onKey);
    return () => dialog.removeEventListener('keydown', onKey);
  }, [inside]);
}
