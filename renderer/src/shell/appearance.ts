/**
 * Theme and density on the page: the clinician's setting (kept in the
 * encrypted cache's workspace state) becomes data-theme / data-density on
 * <html>; "system" leaves the choice to styles.css (the OS's colour scheme;
 * compact on a window 800 px tall or less). The attributes stay on the page
 * across a lock, so the lock screen keeps the clinician's theme without
 * storing anything outside the cache. Never store settings anywhere else
 * (no localStorage: the renderer keeps nothing on disk).
 */
import type { WorkspaceState } from '../../../shared/contract';

export type Theme = WorkspaceState['theme'];
export type Density = WorkspaceState['density'];

export function applyAppearance(theme: Theme, density: Density): void {
  const root = document.documentElement;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
  if (density === 'system') delete root.dataset.density;
  else root.dataset.density = density;
}

export const THEME_WORDS: Record<Theme, string> = {
  system: 'Same as this computer',
  light: 'Light',
  dark: 'Dark',
};

export const DENSITY_WORDS: Record<Density, string> = {
  system: 'Automatic (compact on short screens)',
  comfortable: 'Comfortable',
  compact: 'Compact',
};
