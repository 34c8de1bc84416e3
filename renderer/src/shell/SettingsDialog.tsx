/**
 * The settings dialog (from the top bar): theme (system, light, dark) and
 * density (automatic, comfortable, compact), what IT manages on this
 * computer (ManagedSettings), and the updater's state in words. A choice
 * applies at once and is kept in the encrypted cache's workspace state
 * (workspace.set). A theme or density IT forces (source 'policy') shows
 * IT's value, disabled, with "Set by your organisation": the clinician
 * cannot override it here. Until settings.list answers, the theme and
 * density choices are disabled (what IT forces is not known yet: a click must
 * never paint a theme IT forbids) and the focus waits on Close; once known,
 * the focus moves to the first choice the clinician may change (or stays on
 * Close), never onto a disabled control or <body>. The updater's state is
 * one sentence, its reason (the updater's own message) said once. Holds no
 * PHI.
 */
import { useEffect, useRef, useState } from 'react';
import { DENSITIES, THEMES, type CallOutput, type SettingView } from '../../../shared/contract';
import { api, call } from '../clinician';
import { Dialog } from '../ui/Dialog';
import { applyAppearance, DENSITY_WORDS, THEME_WORDS, type Density, type Theme } from './appearance';
import { DENSITY_SETTING, ManagedSettings, THEME_SETTING } from './ManagedSettings';
import { updateStateSentence, useUpdateStatus } from './update-status';

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
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    call(api().settings.list({})).then(setList, (e: Error) => setListError(`Managed settings could not be read: ${e.message}`));
  }, []);

  // Unknown until settings.list answers (or fails: then nothing is known to be forced and the choices open).
  const known = list !== null || listError !== null;
  const forcedTheme = forced(list, THEME_SETTING, THEMES);
  const forcedDensity = forced(list, DENSITY_SETTING, DENSITIES);
  const shownTheme = forcedTheme ?? theme;
  const shownDensity = forcedDensity ?? density;
  const themeLocked = !known || forcedTheme !== null;
  const densityLocked = !known || forcedDensity !== null;

  // Once known, the focus goes to the first choice the clinician may change, unless they already moved it.
  useEffect(() => {
    if (!known) return;
    const form = formRef.current;
    const dialog = form?.closest('dialog');
    if (!form || !dialog) return;
    const active = document.activeElement;
    const untouched = active === null || active === document.body || active === dialog || (active instanceof HTMLElement && active.classList.contains('close') && dialog.contains(active));
    if (!untouched) return;
    const first = form.querySelector<HTMLInputElement>('input:checked:enabled') ?? form.querySelector<HTMLInputElement>('input:enabled');
    (first ?? dialog.querySelector<HTMLElement>('button.close'))?.focus();
  }, [known]);

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
      <form className="settings" ref={formRef} onSubmit={(e) => e.preventDefault()}>
        <fieldset disabled={themeLocked} aria-busy={!known || undefined} aria-describedby={forcedTheme ? 'theme-forced' : undefined} data-testid="theme-fieldset">
          <legend>Theme</legend>
          {forcedTheme && <p className="forced-note" id="theme-forced">Set by your organisation</p>}
          {THEMES.map((t) => (
            <label key={t}>
              <input type="radio" name="theme" value={t} checked={shownTheme === t} onChange={() => !themeLocked && choose(t, shownDensity)} />
              {THEME_WORDS[t]}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={densityLocked} aria-busy={!known || undefined} aria-describedby={forcedDensity ? 'density-forced' : undefined} data-testid="density-fieldset">
          <legend>Density</legend>
          {forcedDensity && <p className="forced-note" id="density-forced">Set by your organisation</p>}
          {DENSITIES.map((d) => (
            <label key={d}>
              <input type="radio" name="density" value={d} checked={shownDensity === d} onChange={() => !densityLocked && choose(shownTheme, d)} />
              {DENSITY_WORDS[d]}
            </label>
          ))}
        </fieldset>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
      {list && <ManagedSettings settings={list.settings} policySource={list.policySource} policyProblems={list.policyProblems} />}
      {listError && <p className="error" role="alert">{listError}</p>}
      <section className="update-settings" aria-labelledby="update-settings-title" data-testid="update-settings">
        <h3 id="update-settings-title">Updates</h3>
        {update ? (
          <>
            <p data-testid="update-state">
              This is version {update.currentVersion}.{updateStateSentence(update) && ` ${updateStateSentence(update)}`}
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
