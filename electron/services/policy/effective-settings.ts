/**
 * Effective settings: for each catalogue setting, IT's machine policy beats
 * the organisation's policy, which beats the clinician's choice, which beats
 * the default. Every value is checked against the catalogue; a refused policy
 * value is reported (setting and what is wrong, never the value) and the
 * setting's SAFEST value used, still as managed. Also the settings screen's
 * surface (with the policy source's own problems: why a file was refused,
 * unknown settings it names). Never hand the renderer a secret (the catalogue holds none, a URL
 * with a user name or password is refused, and a URL is shown as origin and
 * path only, without query or fragment) and never let a user value override
 * a managed one.
 */
import type { SettingView } from '../../../shared/contract';
import type { SettingsSurface } from '../app-surfaces';
import type { PolicyReading } from './policy-reader';
import { checkSettingValue, SETTINGS_CATALOGUE, type SettingDefinition, type SettingValue } from './settings-catalogue';

export type SettingSource = SettingView['source'];
export interface EffectiveSetting {
  name: string;
  value: SettingValue;
  source: SettingSource;
  managed: boolean;
  problem: string | null;
}
export type ValuesByName = Partial<Record<string, SettingValue | undefined>>;

export interface SettingsInputs {
  policy: PolicyReading;
  /** The backend's organisation policy, when known. */
  organisation?: ValuesByName | null;
  /** The clinician's own choices (theme, density), when a session is open. */
  user?: ValuesByName | null;
  /** Development builds only: environment overrides (shown as the user's, beating a policy file on the developer's machine) and loopback defaults. */
  developmentOverrides?: ValuesByName;
  developmentDefaults?: ValuesByName;
}

function resolveOne(s: SettingDefinition, inputs: SettingsInputs): EffectiveSetting {
  const { policy } = inputs;
  // Development builds only (never passed in a packaged app): the developer's environment beats a policy file on their machine.
  const dev = inputs.developmentOverrides?.[s.name];
  if (dev !== undefined && dev !== null) {
    const checked = checkSettingValue(s, dev);
    if (checked.ok) return { name: s.name, value: checked.value, source: 'user', managed: false, problem: null };
  }
  if (s.from.includes('policy')) {
    const refused = policy.invalid?.[s.name];
    if (refused !== undefined) return { name: s.name, value: s.safest, source: 'policy', managed: true, problem: `${refused}; the safest value is used.` };
    if (Object.hasOwn(policy.values, s.name)) {
      const checked = checkSettingValue(s, policy.values[s.name]);
      if (checked.ok) return { name: s.name, value: checked.value, source: 'policy', managed: true, problem: null };
      return { name: s.name, value: s.safest, source: 'policy', managed: true, problem: `${checked.problem}; the safest value is used.` };
    }
  }
  const layers: Array<[SettingSource, ValuesByName | null | undefined, boolean]> = [
    ['organisation', inputs.organisation, s.from.includes('organisation')],
    ['user', inputs.user, s.from.includes('user')],
    ['default', inputs.developmentDefaults, true],
  ];
  for (const [source, values, allowed] of layers) {
    const raw = values?.[s.name];
    if (!allowed || raw === undefined || raw === null) continue;
    const checked = checkSettingValue(s, raw);
    // A bad organisation, user or development value is not IT's: it is skipped, the next layer decides.
    if (checked.ok) return { name: s.name, value: checked.value, source, managed: false, problem: null };
  }
  return { name: s.name, value: s.default, source: 'default', managed: false, problem: null };
}

/** Every catalogue setting, resolved. */
export function effectiveSettings(inputs: SettingsInputs): Map<string, EffectiveSetting> {
  return new Map(SETTINGS_CATALOGUE.map((s) => [s.name, resolveOne(s, inputs)]));
}

/** The policy source in words for the settings screen. */
export function policySourceInWords(policy: PolicyReading): string {
  if (policy.present) return policy.source.slice(0, 300);
  if (policy.problems.length > 0) return `${policy.source} (refused: not used)`.slice(0, 300);
  return `none (${policy.source} is not set)`.slice(0, 300);
}

const POLICY_PROBLEMS_SHOWN = 20;

/** The reading's problems for the settings screen (the reader words them without values): at most 20 lines of at most 300 characters, the last counting any left out. */
export function policyProblemsForScreen(policy: PolicyReading): string[] {
  const lines = policy.problems.map((p) => p.slice(0, 300));
  if (lines.length <= POLICY_PROBLEMS_SHOWN) return lines;
  const more = lines.length - (POLICY_PROBLEMS_SHOWN - 1);
  return [...lines.slice(0, POLICY_PROBLEMS_SHOWN - 1), `${more} more problems with the policy are not shown here.`];
}

export interface SettingsSurfaceOptions extends Omit<SettingsInputs, 'organisation' | 'user'> {
  /** Read on every list(): the organisation's policy as last seen, or null. */
  organisation?: () => ValuesByName | null;
  /** Read on every list(): the clinician's choices, or null (no session open); may answer a promise (the cache store). */
  user?: () => ValuesByName | null | Promise<ValuesByName | null>;
}

function viewValue(s: SettingDefinition, v: SettingValue): SettingView['value'] {
  if (typeof v !== 'string') return v;
  if (s.type === 'string' && s.url) {
    // Origin and path only: a query or fragment may carry a token. The value was checked (no user name or password), so it parses.
    try {
      const url = new URL(v);
      return `${url.origin}${url.pathname}`.slice(0, 1024);
    } catch {
      return null;
    }
  }
  return v.slice(0, 1024);
}

/** The settings screen: every catalogue setting with its value, source, whether IT manages it, and what was wrong with IT's value. */
export function createSettingsSurface(options: SettingsSurfaceOptions): SettingsSurface {
  return {
    async list() {
      const user = (await options.user?.()) ?? null;
      const resolved = effectiveSettings({ ...options, organisation: options.organisation?.() ?? null, user });
      const settings: SettingView[] = SETTINGS_CATALOGUE.map((s) => {
        const e = resolved.get(s.name)!;
        return { name: s.name, label: s.label, value: viewValue(s, e.value), source: e.source, managed: e.managed, problem: e.problem?.slice(0, 300) ?? null };
      });
      return { settings, policySource: policySourceInWords(options.policy), policyProblems: policyProblemsForScreen(options.policy) };
    },
  };
}
