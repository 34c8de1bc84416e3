/**
 * The "synthetic patients only" banner of `npm run demo` (test/browser/
 * demo-desktop.ts). The demo marks the page with
 * <html data-clinician-demo="synthetic"> from its init script; this is the
 * one place the renderer reads that mark. The mark is only a switch: the text
 * is fixed here, so nothing outside the renderer puts words on screen. The
 * app never sets the mark, so the banner never shows in Electron. Never let
 * the mark change what data is shown or how it is handled.
 */
import './demo-banner.css';

export const DEMO_NOTICE = 'Demo: synthetic patients only — not for clinical use';

export function isDemoPage(): boolean {
  return document.documentElement.dataset.clinicianDemo === 'synthetic';
}

export function DemoBanner() {
  if (!isDemoPage()) return null;
  return (
    <aside className="demo-banner" aria-label="Demo notice" data-testid="demo-banner">
      {DEMO_NOTICE}
    </aside>
  );
}
