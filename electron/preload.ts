/**
 * Electron glue: the preload. Exposes `window.clinician`, built from the
 * contract's call names, and nothing else: no ipcRenderer, no Node, no
 * generic "invoke any channel" function.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { buildClinicianApi } from '../shared/clinician-api';
import { CALL_NAMES, ipcChannelFor } from '../shared/call-names';

contextBridge.exposeInMainWorld(
  'clinician',
  buildClinicianApi(CALL_NAMES, (name, input) => ipcRenderer.invoke(ipcChannelFor(name), input)),
);
