/**
 * The privacy console: sign-in with a passkey, then three pages (open
 * flags, a patient's accounting of disclosures, a clinician's access
 * history) under a top bar with the officer's name and Sign out. Signs out
 * after the backend's idle limit without use (the backend ends the session
 * at the same limit), and returns to sign-in whenever the API says the
 * session is gone. A clinician who is not a privacy officer sees only a
 * neutral "not available". Holds what it shows in memory only.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { consolePaths, type ConsoleMe } from '../../shared/privacy-console-api';
import { getJson, postJson } from './console-client';
import { ConsoleSignIn } from './ConsoleSignIn';
import { FlagsPage } from './FlagsPage';
import { AccountingPage } from './AccountingPage';
import { HistoryPage } from './HistoryPage';

type Page = 'flags' | 'accounting' | 'history';
type State = { kind: 'checking' } | { kind: 'signed-out'; reason: string | null } | { kind: 'not-available' } | { kind: 'signed-in'; me: ConsoleMe };

const PAGES: Array<{ id: Page; label: string }> = [
  { id: 'flags', label: 'Open flags' },
  { id: 'accounting', label: 'Accounting of disclosures' },
  { id: 'history', label: 'Clinician access history' },
];
const ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

export function ConsoleApp() {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const [page, setPage] = useState<Page>('flags');
  // Unsent acknowledgement notes by flag id: kept across Esc and page changes, dropped at sign-out (never stored outside this page).
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const setDraft = useCallback((id: string, note: string | null) => {
    setDrafts((d) => {
      const { [id]: _old, ...rest } = d;
      return note === null || note === '' ? rest : { ...rest, [id]: note };
    });
  }, []);

  useEffect(() => {
    getJson<ConsoleMe>(consolePaths.me).then(
      (me) => setState({ kind: 'signed-in', me }),
      () => setState({ kind: 'signed-out', reason: null }),
    );
  }, []);

  const signOut = useCallback(async (reason: string | null) => {
    await postJson(consolePaths.signOut).catch(() => undefined);
    setDrafts({});
    setState({ kind: 'signed-out', reason });
  }, []);

  /** Any page's call that the API answers "not available" ends the console view. */
  const onSessionGone = useCallback(() => {
    setDrafts({});
    setState({ kind: 'signed-out', reason: 'Your session ended. Sign in again.' });
  }, []);

  if (state.kind === 'checking') return <main className="signin" aria-busy="true"><p className="muted">Loading…</p></main>;
  if (state.kind === 'not-available') return <NotAvailable onBack={() => setState({ kind: 'signed-out', reason: null })} />;
  if (state.kind === 'signed-out') {
    return <ConsoleSignIn reason={state.reason} onSignedIn={(me) => setState({ kind: 'signed-in', me })} onNotAvailable={() => setState({ kind: 'not-available' })} />;
  }
  const me = state.me;
  return (
    <div className="app console">
      <IdleSignOut minutes={me.idleMinutes} onIdle={() => void signOut('Signed out after a period of inactivity.')} />
      <header className="topbar">
        <span className="brand">Privacy console</span>
        <nav aria-label="Console pages" className="console-nav">
          {PAGES.map((p) => (
            <button key={p.id} type="button" className="topbar-button" aria-current={page === p.id ? 'page' : undefined} onClick={() => setPage(p.id)} data-testid={`nav-${p.id}`}>
              {p.label}
            </button>
          ))}
        </nav>
        <span className="topbar-spacer" />
        <span className="topbar-user" title={me.officer.displayName} data-testid="console-officer">{me.officer.displayName}</span>
        <button type="button" className="topbar-button" onClick={() => void signOut(null)} data-testid="console-sign-out">Sign out</button>
      </header>
      <main className="main-pane console-main">
        {page === 'flags' && <FlagsPage onSessionGone={onSessionGone} drafts={drafts} onDraft={setDraft} />}
        {page === 'accounting' && <AccountingPage onSessionGone={onSessionGone} />}
        {page === 'history' && <HistoryPage onSessionGone={onSessionGone} />}
      </main>
    </div>
  );
}

function NotAvailable({ onBack }: { onBack(): void }) {
  return (
    <main className="signin" aria-labelledby="na-title">
      <div className="signin-card" role="alert" data-testid="console-not-available">
        <h1 id="na-title">Not available</h1>
        <p>This page is not available.</p>
        <button type="button" className="secondary" onClick={onBack}>Back</button>
      </div>
    </main>
  );
}

/** Signs out after `minutes` without a key, click or scroll (the backend's own idle limit). */
function IdleSignOut({ minutes, onIdle }: { minutes: number; onIdle(): void }) {
  const idle = useRef(onIdle);
  idle.current = onIdle;
  useEffect(() => {
    let timer = setTimeout(() => idle.current(), minutes * 60_000);
    const reset = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.current(), minutes * 60_000);
    };
    for (const e of ACTIVITY) window.addEventListener(e, reset, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of ACTIVITY) window.removeEventListener(e, reset);
    };
  }, [minutes]);
  return null;
}

