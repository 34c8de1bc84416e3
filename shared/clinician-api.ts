/**
 * Builds `window.clinician` from the contract's call names and one transport
 * function. The preload binds it to ipcRenderer.invoke; the browser harness
 * binds it to a Playwright binding. Holds no state and must never add a call
 * that is not in the contract.
 */
import type { CallName } from './call-names';
import type { ClinicianApi } from './contract';

export type Transport = (name: CallName, input: unknown) => Promise<unknown>;

export function buildClinicianApi(names: readonly CallName[], transport: Transport): ClinicianApi {
  const api: Record<string, Record<string, (input: unknown) => Promise<unknown>>> = {};
  for (const name of names) {
    const [ns, method] = name.split('.') as [string, string];
    const group = (api[ns] ??= {});
    group[method] = (input: unknown) => transport(name, input);
  }
  for (const group of Object.values(api)) Object.freeze(group);
  return Object.freeze(api) as unknown as ClinicianApi;
}
