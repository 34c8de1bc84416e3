// Types of electron-native.mjs (the developer path's Electron-ABI native modules), for the tests.
export const STAMP_NAME: string;
export interface NativeModule { name: string; version: string }
export interface PlannedModule extends NativeModule { from: string; to: string }
export interface Stamp { electronVersion: string; abi: string; platform: string; arch: string; modules: Record<string, string> }
export interface RebuildOptions {
  buildPath: string;
  projectRootPath: string;
  electronVersion: string;
  platform: string;
  arch: string;
  onlyModules: string[];
  types: string[];
  force: boolean;
  mode: 'sequential';
}
export interface ElectronNativePlan {
  root: string;
  electronVersion: string;
  abi: string;
  nodeAbi: string;
  platform: string;
  arch: string;
  targetDir: string;
  stampFile: string;
  stamp: Stamp;
  modules: PlannedModule[];
  rebuild: RebuildOptions;
}
export function nativeRuntimeModules(root: string): NativeModule[];
export function electronTarget(root: string): { electronVersion: string; abi: string };
export function planElectronNative(root: string, target?: { platform?: string; arch?: string }): ElectronNativePlan;
export function isUpToDate(plan: ElectronNativePlan): boolean;
export function stage(plan: ElectronNativePlan): void;
export function writeStamp(plan: ElectronNativePlan): void;
export function ensureElectronNative(
  plan: ElectronNativePlan,
  options?: { log?: (line: string) => void; rebuild?: (options: RebuildOptions) => Promise<unknown> },
): Promise<'up-to-date' | 'rebuilt'>;
