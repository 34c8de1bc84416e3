// Types for the two libraries the updater code uses that ship without their own
// (both already come with electron-updater): only the functions used here.
declare module 'js-yaml' {
  export function load(text: string, options?: { schema?: unknown; json?: boolean }): unknown;
  export const FAILSAFE_SCHEMA: unknown;
  export const JSON_SCHEMA: unknown;
  export const CORE_SCHEMA: unknown;
}
declare module 'semver' {
  export function valid(version: string): string | null;
  export function gt(a: string, b: string): boolean;
  export function eq(a: string, b: string): boolean;
  export function prerelease(version: string): ReadonlyArray<string | number> | null;
}
