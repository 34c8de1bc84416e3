/**
 * The settings dialog (from the top bar): theme (system, light, dark) and
 * density (automatic, comfortable, compact). A choice applies at once and is
 * kept in the encrypted cache's workspace state (workspace.set). Holds no PHI.
 */
import { useState } from 'react';
import { DENSITIES, THEMES } from '../../../shared/contract';
import { api, call } from '../clinician';
import { Dialog } from '../ui/Dialog';
import { applyAppearance, DENSITY_WORDS, THEME_WORDS, type Density, type Theme } from './appearance';

interface Props {
  theme: Theme;
  density: Density;
  onChange(theme: Theme, density: Density): void;
  onClose(): void;
}

export function SettingsDialog({ theme, density, onChange, onClose }: Props) {
  const [error, setError] = useState<string | null>(null);
  const choose = (nextTheme: Theme, nextDensity: Density) => {
    applyAppearance(nextTheme, nextDensity);
    onChange(nextTheme, nextDensity);
    call(api().workspace.set({ theme: nextTheme, density: nextDensity })).then(
      () => setError(null),
      (e: Error) => setError(`Not saved: ${e.message}`),
    );
  };
  return (
    <Dialog title="Settings" onClose={onClose} testId="settings-dialog">
      <form className="settings" onSubmit={(e) => e.preventDefault()}>
        <fieldset>
          <legend>Theme</legend>
          {THEMES.map((t) => (
            <label key={t}>
              <input type="radio" name="theme" value={t} checked={theme === t} onChange={() => choose(t, density)} data-autofocus={theme === t ? true : undefined} />
              {THEME_WORDS[t]}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Density</legend>
          {DENSITIES.map((d) => (
            <label key={d}>
              <input type="radio" name="density" value={d} checked={density === d} onChange={() => choose(theme, d)} />
              {DENSITY_WORDS[d]}
            </label>
          ))}
        </fieldset>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    </Dialog>
  );
}
