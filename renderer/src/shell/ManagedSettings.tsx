/**
 * "Managed by your organisation" in Settings: each setting IT set on this
 * computer with its label and its value in words (On/Off, never raw JSON),
 * a visible problem line for a value IT set that was refused (the safest
 * value is used instead), and once, where the policy came from, with what
 * is wrong with that source as a whole under it (why a file was refused,
 * settings it names that do not exist). Each row keeps its label readable:
 * a long value wraps in full under the label, never squeezes it. Also the
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

/** "IT's value was not valid: Automatic updates (updatesEnabled) must be On or Off (true or false); it is text. The safest value is used: On." */
export function problemWords(setting: SettingView): string {
  // Main's problem names the setting and may already end with the consequence; say it once, with the value used.
  const detail = setting.problem?.replace(/[;.,]?\s*the safest value is used\.?\s*$/i, '').replace(/[.;,\s]+$/, '').trim();
  const used = `The safest value is used: ${valueWords(setting)}.`;
  return detail ? `IT's value was not valid: ${detail}. ${used}` : `IT's value for ${setting.label} was not valid. ${used}`;
}

interface Props {
  settings: SettingView[];
  policySource: string;
  /** What is wrong with the policy source as a whole, in main's words (never a value). */
  policyProblems: readonly string[];
}

export function ManagedSettings({ settings, policySource, policyProblems }: Props) {
  const managed = settings.filter((s) => s.managed || s.problem !== null);
  return (
    <section className="managed-settings" aria-labelledby="managed-settings-title" data-testid="managed-settings">
      <h3 id="managed-settings-title">Managed by your organisation</h3>
      <p className="muted policy-source" data-testid="policy-source">Policy from: {policySource}</p>
      {policyProblems.length > 0 && (
        <ul className="policy-problems">
          {policyProblems.map((p, i) => (
            <li key={i} className="managed-problem" data-testid="policy-problem">{p}</li>
          ))}
        </ul>
      )}
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
