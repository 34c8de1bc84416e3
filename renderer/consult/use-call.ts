/**
 * Runs one call for a screen: starts the engine once with the given
 * transport and devices, keeps its latest CallState for rendering, and
 * leaves the call when the screen goes away (a chart closed, the page
 * unloaded). A start that throws becomes a failed state with its typed
 * error, never an unhandled rejection or a blank screen.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { startCall, type CallHandle } from './call-engine';
import { callError, initialCallState, type CallState } from './call-state';
import type { DeviceChoice } from './media-devices';
import { TransportError, type SignalingTransport } from './signaling-transport';

export interface CallControl {
  state: CallState;
  /** The call got as far as joining (media may have flowed, always encrypted). */
  reachedCall: boolean;
  setMuted(muted: boolean): void;
  setCameraOff(off: boolean): void;
  switchDevices(choice: DeviceChoice): void;
  confirmCode(): void;
  /** Leave (or, as host, end for everyone). */
  hangUp(end: boolean): Promise<void>;
}

export function useCall(callId: string, makeTransport: () => SignalingTransport, devices: DeviceChoice = {}): CallControl {
  const [state, setState] = useState<CallState>(initialCallState);
  const [reachedCall, setReachedCall] = useState(false);
  const handleRef = useRef<CallHandle | null>(null);
  /** Hang up pressed before the engine handed back its handle: leave as soon as it does. */
  const pendingHangUp = useRef<boolean | null>(null);
  const startArgs = useRef({ makeTransport, devices });

  useEffect(() => {
    // Per run of this effect (React may run it twice in development): a run that was cleaned up leaves its own call.
    let gone = false;
    pendingHangUp.current = null;
    let handle: CallHandle | null = null;
    const { makeTransport: make, devices: chosen } = startArgs.current;
    startCall({ callId, transport: make(), devices: chosen, onState: (s) => {
      if (gone) return;
      if (s.phase === 'in-call') setReachedCall(true);
      setState(s);
    } }).then(
      (h) => {
        handle = h;
        if (gone || pendingHangUp.current !== null) void h.leave(pendingHangUp.current ?? false).catch(() => undefined);
        else handleRef.current = h;
      },
      (error: unknown) => {
        if (gone) return;
        const typed = error instanceof TransportError ? error.error : callError('CONNECTION_LOST');
        setState((s) => ({ ...s, phase: 'failed', error: s.error ?? typed }));
      },
    );
    const onUnload = () => void handle?.leave(false).catch(() => undefined);
    window.addEventListener('pagehide', onUnload);
    return () => {
      gone = true;
      window.removeEventListener('pagehide', onUnload);
      handleRef.current = null;
      void handle?.leave(false).catch(() => undefined);
    };
  }, [callId]);

  const setMuted = useCallback((m: boolean) => handleRef.current?.setMuted(m), []);
  const setCameraOff = useCallback((off: boolean) => handleRef.current?.setCameraOff(off), []);
  const switchDevices = useCallback((choice: DeviceChoice) => void handleRef.current?.switchDevices(choice).catch(() => undefined), []);
  const confirmCode = useCallback(() => void handleRef.current?.confirmCode().catch(() => undefined), []);
  const hangUp = useCallback(async (end: boolean) => {
    const h = handleRef.current;
    if (h) await h.leave(end).catch(() => undefined);
    else pendingHangUp.current = end;
    setState((s) => (s.phase === 'ended' || s.phase === 'failed' ? s : { ...s, phase: 'ended', endedReason: 'left' }));
  }, []);

  return { state, reachedCall, setMuted, setCameraOff, switchDevices, confirmCode, hangUp };
}
