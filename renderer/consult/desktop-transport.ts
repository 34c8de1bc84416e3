/**
 * Signaling for the desktop page: main holds the call's WebSocket (with the
 * session token, which the renderer never sees) and signs the call key with
 * the device key; this page reaches it only through window.clinician.consult
 * connect / send / receive (a long-poll loop) / leave. Never opens a socket
 * of its own and never talks to the backend directly.
 */
import type { ClinicianApi } from '../../shared/contract';
import type { AppErrorShape, Result } from '../../shared/app-error';
import { callError, type CallError } from './call-state';
import { TransportError, type OutgoingMessage, type SignalingEvents, type SignalingTransport } from './signaling-transport';

function toCallError(error: AppErrorShape): CallError {
  if (error.code === 'CONSULT_REFUSED') return callError('NOT_ALLOWED');
  if (error.code === 'CONSULT_UNAVAILABLE') return callError('MEDIA_UNAVAILABLE');
  return callError('CONNECTION_LOST');
}

async function unwrap<T>(pending: Promise<Result<T>>): Promise<T> {
  const result = await pending;
  if (!result.ok) throw new TransportError(toCallError(result.error));
  return result.value;
}

export function desktopTransport(callId: string, api: ClinicianApi = window.clinician): SignalingTransport {
  let left = false;
  let events: SignalingEvents | null = null;

  async function receiveLoop(): Promise<void> {
    let after = 0;
    for (;;) {
      let batch;
      try {
        batch = await unwrap(api.consult.receive({ callId, after }));
      } catch (error) {
        if (!left) events?.closed(error instanceof TransportError ? error.error : callError('CONNECTION_LOST'));
        return;
      }
      for (const { n, message } of batch.messages) {
        after = Math.max(after, n);
        if (!left) events?.message(message);
      }
      if (batch.closed || left) {
        if (!left) events?.closed(callError('CONNECTION_LOST'));
        return;
      }
    }
  }

  return {
    async connect(publicKey, handlers) {
      events = handlers;
      await unwrap(api.consult.connect({ callId, publicKey }));
      void receiveLoop();
    },
    async send(message: OutgoingMessage) {
      await unwrap(api.consult.send({ callId, message }));
    },
    async leave(end) {
      left = true;
      await unwrap(api.consult.leave({ callId, end }));
    },
  };
}
