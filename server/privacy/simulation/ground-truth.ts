/**
 * The ground truth of the simulated month: every injected snooping case
 * (which rule family must flag it, whose access, which patients, when) and
 * every near-miss (ordinary work that looks a little like snooping and must
 * NOT be flagged). Pure data; the scoring is ./detection-score.
 */

import { PRIVACY_RULES, type PrivacyRule } from '../../../shared/privacy-api';

/** One family of injected behaviour per monitoring rule of issue 13 (item 4): the rules' own ids. */
export const RULE_FAMILIES = PRIVACY_RULES;
export type RuleFamily = PrivacyRule;

export interface InjectedCase {
  id: string;
  rule: RuleFamily;
  /**
   * Other rules this behaviour inherently also trips (a burst of 30 offline
   * reads without charting is also "many charts without charting"): a flag of
   * one of these matching the case is neither a true nor a false positive.
   */
  alsoAcceptable: RuleFamily[];
  clinicianId: string;
  patientIds: string[];
  from: number;
  until: number;
  what: string;
}

export interface NearMiss {
  id: string;
  /** The rule that must stay quiet here. */
  rule: RuleFamily;
  clinicianId: string;
  patientIds: string[];
  from: number;
  until: number;
  what: string;
}

export interface GroundTruth {
  cases: InjectedCase[];
  nearMisses: NearMiss[];
}
