/**
 * Theme and density on the page: the clinician's setting (kept in the
 * encrypted cache's workspace state) becomes data-theme / data-density on
 * <html>. The theme is always resolved here to "light" or "dark": "system"
 * follows the OS's colour scheme, live, through matchMedia, so styles.css
 * holds one dark palette (`:root[data-theme="dark"]`) instead of two copies.
 * Density "system" leaves the choice to styles.css (compact on a window 800
 * px tall or less). The attributes stay on the page across a lock, so the
 * lock screen keeps the clinician's theme; before the first unlock the OS
 * decides. Never store settings anywhere else (no localStorage: the renderer
 * keeps nothing on disk).
 */
import type { WorkspaceState } from '../../../shared/contract';

export type Theme = WorkspaceState['theme'];
export type Density = WorkspaceState['density'];

let chosenTheme: Theme = 'system';
const osDark = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;

function paintTheme(): void {
  document.documentElement.dataset.theme = chosenTheme === 'system' ? (osDark?.matches ? 'dark' : 'light') : chosenTheme;
}

osDark?.addEventListener('change', paintTheme);
paintTheme();

export function applyAppearance(theme: Theme, density: Density): void {
  chosenTheme = theme;
  paintTheme();
  const root = document.documentElement;
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
