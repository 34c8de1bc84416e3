/**
 * The workspace while unlocked (or with no sign-in set up): the top bar with
 * search, sync status and the clinician's controls; the "My patients"
 * worklist as home; one chart at a time; the Devices, Conflicts, Waiting
 * changes and Settings dialogs. Where the clinician is (open chart and tab)
 * and their theme and density live in the cache's workspace state: read on
 * mount (so an unlock returns to the same chart and tab, unless the clinician
 * already opened or closed one meanwhile), written on every open, close and
 * tab change. Keyboard: "/" or Ctrl+K search, Ctrl+L lock.
 * Never shows patient data unless the cache is open; never clears the
 * remembered chart on a lock (only when the clinician closes it).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AuthStatus, CallOutput, ChartTab } from '../../../shared/contract';
import { api, call } from '../clinician';
import { PatientSearch } from './PatientSearch';
import { ChartView } from '../chart/ChartView';
import { DevicesPanel } from './DevicesPanel';
import { SyncStatusBar, useSyncStatus } from './SyncStatusBar';
import { ConflictPanel } from './ConflictPanel';
import { WaitingChangesDialog } from './WaitingChangesDialog';
import { Worklist } from '../worklist/Worklist';
import { applyAppearance, type Density, type Theme } from './appearance';
import { SettingsDialog } from './SettingsDialog';
import { TopBar } from './TopBar';
import { useShortcuts } from './shortcuts';

type CacheStatus = CallOutput<'app.status'>;
type DialogName = 'devices' | 'conflicts' | 'waiting' | 'settings';
interface OpenChart {
  patientId: string;
  tab: ChartTab;
}

export function Workspace({ auth }: { auth: AuthStatus | null }) {
  const [status, setStatus] = useState<CacheStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  // undefined until the workspace state is read: nothing is shown before we know which chart was open.
  const [chart, setChart] = useState<OpenChart | null | undefined>(undefined);
  const [lastClosed, setLastClosed] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogName | null>(null);
  const [appearance, setAppearance] = useState<{ theme: Theme; density: Density }>({ theme: 'system', density: 'system' });
  // Bumped when the conflict view closes, so an open chart shows the versions chosen.
  const [chartRevision, setChartRevision] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);
  // Set once the clinician opens or closes a chart: a remembered chart answered later never replaces their choice.
  const chose = useRef(false);
  // Set once the remembered state has been read (applied, or left for the clinician's own choice): data-restored on <main>.
  const [restored, setRestored] = useState(false);
  const mainRef = useRef<HTMLElement>(null);

  const cacheOpen = status?.cache === 'open';
  const sync = useSyncStatus(auth !== null && cacheOpen);

  useEffect(() => {
    call(api().app.status({})).then(setStatus, (err: Error) => setStatusError(err.message));
  }, []);

  useEffect(() => {
    if (!cacheOpen) return;
    let cancelled = false;
    call(api().workspace.get({})).then(
      (w) => {
        if (cancelled) return;
        applyAppearance(w.theme, w.density);
        setAppearance({ theme: w.theme, density: w.density });
        if (!chose.current) setChart(w.openPatientId ? { patientId: w.openPatientId, tab: w.tab ?? 'summary' } : null);
        setRestored(true);
      },
      // The state could not be read: start at the worklist (nothing is lost, the drafts are in the cache).
      () => {
        if (cancelled) return;
        if (!chose.current) setChart(null);
        setRestored(true);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [cacheOpen]);

  const remember = useCallback((changes: { openPatientId?: string | null; tab?: ChartTab | null }) => {
    // Best effort: a failed write costs only the return to this chart after unlock.
    void api().workspace.set(changes);
  }, []);

  const openChart = useCallback(
    (patientId: string) => {
      chose.current = true;
      setChart({ patientId, tab: 'summary' });
      remember({ openPatientId: patientId, tab: 'summary' });
      // Focus leaves the search so Esc and the chart's keys reach the chart.
      searchRef.current?.blur();
      mainRef.current?.focus();
    },
    [remember],
  );
  const openPatientId = chart?.patientId ?? null;
  const closeChart = useCallback(() => {
    chose.current = true;
    setLastClosed(openPatientId);
    setChart(null);
    remember({ openPatientId: null, tab: null });
  }, [remember, openPatientId]);
  const changeTab = useCallback(
    (tab: ChartTab) => {
      setChart((c) => (c ? { ...c, tab } : c));
      remember({ tab });
    },
    [remember],
  );

  const focusSearch = useCallback(() => {
    searchRef.current?.focus();
    searchRef.current?.select();
  }, []);
  const lock = useCallback(() => void api().auth.lock({}), []);
  useShortcuts({ focusSearch, lock: auth ? lock : null });

  const closeDialog = useCallback(() => setDialog(null), []);
  const user = auth?.clinician?.displayName ?? status?.actor ?? null;

  return (
    <div className="app">
      <TopBar>
        {cacheOpen && <PatientSearch inputRef={searchRef} onOpen={openChart} />}
        <span className="topbar-spacer" />
        {auth && cacheOpen && <SyncStatusBar status={sync} onShowWaiting={() => setDialog('waiting')} onResolve={() => setDialog('conflicts')} />}
        {!auth?.online && auth && !sync && <span className="pill pill-warn" data-testid="offline-pill">Offline</span>}
        {cacheOpen && <span className="pill pill-ok topbar-cache">Encrypted cache open</span>}
        {status && !cacheOpen && <span className="pill pill-bad">Cache not available</span>}
        {user && <span className="topbar-user" title={user}>{user}</span>}
        {cacheOpen && (
          <button type="button" className="topbar-button" onClick={() => setDialog('settings')} aria-haspopup="dialog" data-testid="settings-button">Settings</button>
        )}
        {auth && (
          <>
            <button type="button" className="topbar-button" onClick={() => setDialog('devices')} aria-haspopup="dialog">Devices</button>
            <button type="button" className="topbar-button" onClick={lock} data-testid="lock-button" title="Lock (Ctrl+L)" aria-keyshortcuts="Control+L">Lock</button>
          </>
        )}
      </TopBar>
      {(statusError || (status && !cacheOpen)) && (
        <main className="problem" role="alert" data-testid="cache-problem">
          <h1>The patient cache is not available</h1>
          <p>{status?.problem?.message ?? statusError}</p>
          <p className="muted">No patient data is shown until it opens. Ask IT if this persists.</p>
        </main>
      )}
      {!status && !statusError && <main className="starting"><h1 className="sr-only">Clinician Desktop</h1><p className="muted">Opening the patient cache…</p></main>}
      {cacheOpen && (
        <div className="workspace">
          <main className="main-pane" ref={mainRef} tabIndex={-1} aria-label={chart ? 'Chart' : 'My patients'} data-restored={restored}>
            {chart === undefined && <p className="muted">Opening…</p>}
            {chart === null && <Worklist onOpen={openChart} focusPatientId={lastClosed} />}
            {chart && (
              <ChartView
                key={`${chart.patientId}-${chartRevision}`}
                patientId={chart.patientId}
                initialTab={chart.tab}
                onTabChange={changeTab}
                onClose={closeChart}
              />
            )}
          </main>
        </div>
      )}
      {dialog === 'devices' && <DevicesPanel onClose={closeDialog} />}
      {dialog === 'waiting' && cacheOpen && <WaitingChangesDialog status={sync} onClose={closeDialog} onResolve={() => setDialog('conflicts')} />}
      {dialog === 'conflicts' && cacheOpen && (
        <ConflictPanel
          onClose={() => {
            setDialog(null);
            setChartRevision((r) => r + 1);
          }}
        />
      )}
      {dialog === 'settings' && cacheOpen && (
        <SettingsDialog theme={appearance.theme} density={appearance.density} onChange={(theme, density) => setAppearance({ theme, density })} onClose={closeDialog} />
      )}
    </div>
  );
}
