/**
 * The top bar: the product name, then whatever the screen puts in it
 * (search, sync status, the clinician, Settings, Devices, Lock). One line at
 * 1100 px and wider; at 200 % zoom the name and the clinician give way so the
 * controls stay on one line. At its end, the update notice (only when a
 * verified update is ready) and only on the workspace, the one screen that
 * fills the bar (`children`): the lock, sign-in and starting screens pass
 * none, so nobody at a locked or signed-out computer is offered a restart.
 * While the notice shows, the product name gives way to it. Holds no PHI of
 * its own.
 */
import type { ReactNode } from 'react';
import { UpdateNotice } from './UpdateNotice';

export function TopBar({ children, offline }: { children?: ReactNode; offline?: boolean }) {
  const workspace = children !== undefined;
  return (
    <header className="topbar" data-testid="topbar">
      <span className="brand">Clinician Desktop</span>
      {offline && <span className="pill pill-warn" data-testid="offline-pill">Offline</span>}
      {children ?? <span className="topbar-spacer" />}
      {workspace && <UpdateNotice />}
    </header>
  );
}
