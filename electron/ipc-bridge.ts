/**
 * Electron glue: binds the handler registry to ipcMain, one channel per
 * contract call. Describes the sender frame to `dispatch`, which checks it
 * and parses the payload. Never register a handler outside the contract, and
 * never handle a call without going through `dispatch`.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CALL_NAMES, ipcChannelFor } from '../shared/contract';
import type { Caller } from './services/caller-policy';
import { dispatch, type DispatchOptions, type HandlerRegistry } from './services/handler-registry';

function callerOf(event: IpcMainInvokeEvent): Caller {
  const frame = event.senderFrame;
  if (!frame) return { url: '', isMainFrame: false };
  const caller: Caller = { url: frame.url, isMainFrame: frame.parent === null };
  // The sending window (a print is bound to it); a described frame without its web contents binds to none.
  const sender = event.sender as IpcMainInvokeEvent['sender'] | undefined;
  if (sender) caller.windowId = sender.id;
  return caller;
}

export function bindRegistry(ipcMain: IpcMain, registry: HandlerRegistry, options: DispatchOptions): void {
  for (const name of CALL_NAMES) {
    ipcMain.handle(ipcChannelFor(name), (event, payload: unknown) => dispatch(registry, name, payload, callerOf(event), options));
  }
}
