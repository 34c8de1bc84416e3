/**
 * The browser tests' stand-in for electron/preload.ts: the same builder and
 * contract names, with a Playwright binding as the transport instead of
 * ipcRenderer.invoke. Bundled by esbuild and injected as an init script.
 */
import { buildClinicianApi } from '../../shared/clinician-api';
import { CALL_NAMES, type CallName } from '../../shared/call-names';

const page = globalThis as unknown as { __clinicianTransport(name: CallName, input: unknown): Promise<unknown> };

Object.defineProperty(globalThis, 'clinician', {
  value: buildClinicianApi(CALL_NAMES, (name, input) => page.__clinicianTransport(name, input)),
  writable: false,
  configurable: false,
});
