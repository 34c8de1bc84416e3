/**
 * The app shell. Sign-in decides what may be on screen: the enrollment or
 * lock screen (no PHI), or the workspace (worklist, search, chart) only
 * while unlocked. A lock unmounts the workspace, so no chart stays in the
 * DOM behind an overlay; the workspace state in the cache brings the same
 * chart and tab back after unlock.
 */
import { useEffect, useState } from 'react';
import type { AuthStatus } from '../../shared/contract';
import { api, call } from './clinician';
import { EnrollScreen, LockScreen } from './SignInScreens';
import { TopBar } from './shell/TopBar';
import { Workspace } from './shell/Workspace';

/** Follows main's sign-in state; null while unknown, 'none' where sign-in is not set up. */
function useAuthStatus(): AuthStatus | 'none' | null {
  const [status, setStatus] = useState<AuthStatus | 'none' | null>(null);
  useEffect(() => {
    let stopped = false;
    const follow = async () => {
      let current: AuthStatus;
      try {
        current = await call(api().auth.status({}));
      } catch {
        // Sign-in not set up here (NOT_ENROLLED), or this window may not ask:
        // the workspace then shows what app.status says, and no patient data.
        setStatus('none');
        return;
      }
      while (!stopped) {
        setStatus(current);
        try {
          current = await call(api().auth.watch({ version: current.version }));
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    void follow();
    return () => {
      stopped = true;
    };
  }, []);
  return status;
}

function useActivityPings(enabled: boolean) {
  useEffect(() => {
    if (!enabled) return;
    let last = 0;
    const ping = () => {
      const now = Date.now();
      if (now - last < 30_000) return;
      last = now;
      void api().auth.activity({});
    };
    const events = ['keydown', 'pointerdown', 'wheel'] as const;
    for (const e of events) window.addEventListener(e, ping, { passive: true });
    return () => {
      for (const e of events) window.removeEventListener(e, ping);
    };
  }, [enabled]);
}

export function App() {
  const auth = useAuthStatus();
  useActivityPings(auth !== 'none' && auth?.state === 'unlocked');
  if (auth === null) {
    return (
      <div className="app">
        <TopBar />
        <main className="starting"><h1 className="sr-only">Clinician Desktop</h1><p className="muted">Starting…</p></main>
      </div>
    );
  }
  if (auth !== 'none' && auth.state === 'signed-out') return <div className="app"><TopBar /><EnrollScreen reason={auth.reason} /></div>;
  if (auth !== 'none' && auth.state === 'locked') return <div className="app"><TopBar offline={!auth.online} /><LockScreen status={auth} /></div>;
  return <Workspace auth={auth === 'none' ? null : auth} />;
}
