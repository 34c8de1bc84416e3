/**
 * The app shell. Sign-in decides what may be on screen: the enrollment or
 * lock screen (no PHI), or the workspace (patient search and chart) only
 * while unlocked. A lock unmounts the workspace, so no chart stays in the
 * DOM behind an overlay. Keyboard first: "/" or Ctrl+K search, arrows move,
 * Enter opens, Escape closes, Ctrl+L locks.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AuthStatus, CallOutput } from '../../shared/contract';
import { api, call } from './clinician';
import { PatientSearch } from './PatientSearch';
import { ChartView } from './chart/ChartView';
import { EnrollScreen, LockScreen } from './SignInScreens';
import { DevicesPanel } from './DevicesPanel';
import { SyncStatusBar } from './SyncStatusBar';
import { ConflictPanel } from './ConflictPanel';

type CacheStatus = CallOutput<'app.status'>;

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
  if (auth === null) return <div className="app"><p className="muted center">Starting…</p></div>;
  if (auth !== 'none' && auth.state === 'signed-out') return <Shell auth={auth}><EnrollScreen reason={auth.reason} /></Shell>;
  if (auth !== 'none' && auth.state === 'locked') return <Shell auth={auth}><LockScreen status={auth} /></Shell>;
  return <Workspace auth={auth === 'none' ? null : auth} />;
}

function Shell({ auth, children, right }: { auth: AuthStatus | null; children: React.ReactNode; right?: React.ReactNode }) {
  return (
    <div className="app">
      <header className="topbar" role="banner">
        <span className="brand">Clinician Desktop</span>
        <span className="topbar-status" data-testid="cache-status">
          {auth?.state === 'unlocked' || !auth ? null : <span className="pill pill-bad">Locked</span>}
          {auth && !auth.online && <span className="pill pill-warn" data-testid="offline-pill">Offline</span>}
        </span>
        {right}
      </header>
      {children}
    </div>
  );
}

function Workspace({ auth }: { auth: AuthStatus | null }) {
  const [status, setStatus] = useState<CacheStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [openPatientId, setOpenPatientId] = useState<string | null>(null);
  const [showDevices, setShowDevices] = useState(false);
  const [showConflicts, setShowConflicts] = useState(false);
  // Bumped when the conflict view closes, so an open chart shows the versions chosen.
  const [chartRevision, setChartRevision] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    call(api().app.status({})).then(setStatus, (err: Error) => setStatusError(err.message));
  }, []);

  const focusSearch = useCallback(() => {
    searchRef.current?.focus();
    searchRef.current?.select();
  }, []);
  const lock = useCallback(() => void api().auth.lock({}), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      if ((e.key === '/' && !typing) || (e.key.toLowerCase() === 'k' && (e.ctrlKey || e.metaKey))) {
        e.preventDefault();
        focusSearch();
      } else if (auth && e.key.toLowerCase() === 'l' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        lock();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [focusSearch, lock, auth]);

  const cacheOpen = status?.cache === 'open';
  const right = (
    <>
      {auth && cacheOpen && <SyncStatusBar onResolve={() => setShowConflicts(true)} />}
      {cacheOpen && <span className="pill pill-ok">Encrypted cache open</span>}
      {(auth?.clinician?.displayName ?? status?.actor) && <span className="topbar-user">{auth?.clinician?.displayName ?? status?.actor}</span>}
      {auth && (
        <>
          <button type="button" className="topbar-button" onClick={() => setShowDevices((v) => !v)}>Devices</button>
          <button type="button" className="topbar-button" onClick={lock} data-testid="lock-button" title="Lock (Ctrl+L)">Lock</button>
        </>
      )}
    </>
  );
  return (
    <Shell auth={auth} right={right}>
      {status && !cacheOpen && <span className="pill pill-bad">Cache locked</span>}
      {(statusError || (status && !cacheOpen)) && (
        <main className="problem" role="alert" data-testid="cache-problem">
          <h1>The patient cache is not available</h1>
          <p>{status?.problem?.message ?? statusError}</p>
          <p className="muted">No patient data is shown until it opens. Ask IT if this persists.</p>
        </main>
      )}
      {showDevices && <DevicesPanel onClose={() => setShowDevices(false)} />}
      {showConflicts && cacheOpen && <ConflictPanel onClose={() => { setShowConflicts(false); setChartRevision((r) => r + 1); }} />}
      {cacheOpen && (
        <div className="workspace">
          <PatientSearch inputRef={searchRef} selectedId={openPatientId} onOpen={(id) => setOpenPatientId(id)} />
          <main className="chart-pane" aria-live="polite">
            {openPatientId ? (
              <ChartView key={`${openPatientId}-${chartRevision}`} patientId={openPatientId} onClose={() => { setOpenPatientId(null); focusSearch(); }} />
            ) : (
              <div className="empty-chart">
                <p>Search by name, MRN or birth date (YYYY-MM-DD), then press Enter to open a chart.</p>
                <p className="muted"><kbd>/</kbd> search · <kbd>↑</kbd><kbd>↓</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> back{auth && <> · <kbd>Ctrl</kbd>+<kbd>L</kbd> lock</>}</p>
              </div>
            )}
          </main>
        </div>
      )}
    </Shell>
  );
}
