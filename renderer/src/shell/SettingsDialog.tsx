/**
 * The settings dialog (from the top bar): theme (system, light, dark) and
 * density (automatic, comfortable, compact), what IT manages on this
 * computer (ManagedSettings), and the updater's state in words. A choice
 * applies at once and is kept in the encrypted cache's workspace state
 * (workspace.set). A theme or density IT forces (source 'policy') shows
 * IT's value, disabled, with "Set by your organisation": the clinician
 * cannot override it here. Holds no PHI.
 */
import { useEffect, useState } from 'react';
import { DENSITIES, THEMES, type CallOutput, type SettingView } from '../../../shared/contract';
import { api, call } from '../clinician';
import { Dialog } from '../ui/Dialog';
import { applyAppearance, DENSITY_WORDS, THEME_WORDS, type Density, type Theme } from './appearance';
import { DENSITY_SETTING, ManagedSettings, THEME_SETTING } from './ManagedSettings';
import { UPDATE_STATE_WORDS, useUpdateStatus } from './update-status';

interface Props {
  theme: Theme;
  density: Density;
  onChange(theme: Theme, density: Density): void;
  onClose(): void;
}

type SettingsList = CallOutput<'settings.list'>;

/** IT's forced value of an appearance setting, or null when the clinician may choose. */
function forced<T extends string>(list: SettingsList | null, name: string, allowed: readonly T[]): T | null {
  const s: SettingView | undefined = list?.settings.find((x) => x.name === name);
  if (!s || s.source !== 'policy' || typeof s.value !== 'string') return null;
  return (allowed as readonly string[]).includes(s.value) ? (s.value as T) : null;
}

export function SettingsDialog({ theme, density, onChange, onClose }: Props) {
  const [error, setError] = useState<string | null>(null);
  const [list, setList] = useState<SettingsList | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const { status: update } = useUpdateStatus();

  useEffect(() => {
    call(api().settings.list({})).then(setList, (e: Error) => setListError(`Managed settings could not be read: ${e.message}`));
  }, []);

  const forcedTheme = forced(list, THEME_SETTING, THEMES);
  const forcedDensity = forced(list, DENSITY_SETTING, DENSITIES);
  const shownTheme = forcedTheme ?? theme;
  const shownDensity = forcedDensity ?? density;

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
        <fieldset disabled={forcedTheme !== null} aria-describedby={forcedTheme ? 'theme-forced' : undefined} data-testid="theme-fieldset">
          <legend>Theme</legend>
          {forcedTheme && <p className="forced-note" id="theme-forced">Set by your organisation</p>}
          {THEMES.map((t) => (
            <label key={t}>
              <input type="radio" name="theme" value={t} checked={shownTheme === t} onChange={() => choose(t, shownDensity)} data-autofocus={shownTheme === t && !forcedTheme ? true : undefined} />
              {THEME_WORDS[t]}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={forcedDensity !== null} aria-describedby={forcedDensity ? 'density-forced' : undefined} data-testid="density-fieldset">
          <legend>Density</legend>
          {forcedDensity && <p className="forced-note" id="density-forced">Set by your organisation</p>}
          {DENSITIES.map((d) => (
            <label key={d}>
              <input type="radio" name="density" value={d} checked={shownDensity === d} onChange={() => choose(shownTheme, d)} />
              {DENSITY_WORDS[d]}
            </label>
          ))}
        </fieldset>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
      {list && <ManagedSettings settings={list.settings} policySource={list.policySource} />}
      {listError && <p className="error" role="alert">{listError}</p>}
      <section className="update-settings" aria-labelledby="update-settings-title" data-testid="update-settings">
        <h3 id="update-settings-title">Updates</h3>
        {update ? (
          <>
            <p>
              This is version {update.currentVersion}. {UPDATE_STATE_WORDS[update.state]}
              {update.availableVersion && (update.state === 'ready' || update.state === 'downloading') ? `: version ${update.availableVersion}.` : '.'}
            </p>
            {update.message && <p className="muted" data-testid="update-message">{update.message}</p>}
          </>
        ) : (
          <p className="muted">Updates are not set up on this computer.</p>
        )}
      </section>
    </Dialog>
  );
}
