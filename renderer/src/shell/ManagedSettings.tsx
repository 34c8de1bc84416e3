/**
 * "Managed by your organisation" in Settings: each setting IT set on this
 * computer with its label and its value in words (On/Off, never raw JSON),
 * a visible problem line for a value IT set that was refused (the safest
 * value is used instead), and once, where the policy came from. Also the
 * words for a value and for its source, which the rest of Settings uses.
 * Holds no PHI; shows only what main sends (never reads a policy itself).
 */
import type { SettingView } from '../../../shared/contract';
import { DENSITY_WORDS, THEME_WORDS, type Density, type Theme } from './appearance';

/** The policy names of the two appearance settings IT may force (the policy catalogue's names). */
export const THEME_SETTING = 'theme';
export const DENSITY_SETTING = 'density';

export const SOURCE_WORDS: Record<SettingView['source'], string> = {
  policy: 'Set by your organisation (IT policy on this computer)',
  organisation: "Set by your organisation's server",
  user: 'Your choice',
  default: 'Default',
};

/** A setting's value as a clinician reads it. */
export function valueWords(setting: Pick<SettingView, 'name' | 'value'>): string {
  const { name, value } = setting;
  if (value === null || value === '') return 'Not set';
  if (typeof value === 'boolean') return value ? 'On' : 'Off';
  if (typeof value === 'number') return value.toLocaleString('en-GB');
  if (name === THEME_SETTING && value in THEME_WORDS) return THEME_WORDS[value as Theme];
  if (name === DENSITY_SETTING && value in DENSITY_WORDS) return DENSITY_WORDS[value as Density];
  return value;
}

/** "IT's value for Automatic updates was not valid (updatesEnabled must be true or false, not text); the safest value is used: On." */
export function problemWords(setting: SettingView): string {
  // Main's problem may already end with the consequence; say it once, with the value used.
  const detail = setting.problem?.replace(/[;.,]?\s*the safest value is used\.?\s*$/i, '').trim();
  const why = detail ? ` (${detail})` : '';
  return `IT's value for ${setting.label} was not valid${why}; the safest value is used: ${valueWords(setting)}.`;
}

interface Props {
  settings: SettingView[];
  policySource: string;
}

export function ManagedSettings({ settings, policySource }: Props) {
  const managed = settings.filter((s) => s.managed || s.problem !== null);
  return (
    <section className="managed-settings" aria-labelledby="managed-settings-title" data-testid="managed-settings">
      <h3 id="managed-settings-title">Managed by your organisation</h3>
      <p className="muted" data-testid="policy-source">Policy from: {policySource}</p>
      {managed.length === 0 ? (
        <p className="muted">Your organisation manages no settings on this computer.</p>
      ) : (
        <>
          <ul className="managed-list">
            {managed.map((s) => (
              <li key={s.name} data-testid="managed-setting" data-setting={s.name}>
                <span className="managed-label">{s.label}</span>
                <span className="managed-value" data-testid="managed-value">{valueWords(s)}</span>
                <span className="managed-source muted">{SOURCE_WORDS[s.source]}</span>
                {s.problem && (
                  <p className="managed-problem" data-testid="managed-problem">
                    {problemWords(s)}
                  </p>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
