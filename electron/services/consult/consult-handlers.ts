/**
 * The consult.* calls of the handler registry, served by the desktop's
 * consult service (./consult-service.ts), which the sign-in surface (the
 * app's AuthService) carries beside the session it depends on. Where sign-in
 * is not wired (the cache-only tests) every call answers CONSULT_UNAVAILABLE.
 * The service itself refuses every call unless the session is unlocked.
 * Never add a call here that hands the renderer a token or a key.
 */
import { AppError } from '../../../shared/app-error';
import type { SignInSurface } from '../session/sign-in-surface';
import type { Handler } from '../handler-registry';

type ConsultCall = 'consult.start' | 'consult.invite' | 'consult.invited' | 'consult.connect' | 'consult.send' | 'consult.receive' | 'consult.leave';

export function consultHandlers(auth: SignInSurface | undefined): { [N in ConsultCall]: Handler<N> } {
  const consult = auth?.consult;
  if (!consult) {
    const unavailable = (): never => {
      throw new AppError('CONSULT_UNAVAILABLE', 'Consultations are not available on this computer.');
    };
    return {
      'consult.start': unavailable,
      'consult.invite': unavailable,
      'consult.invited': unavailable,
      'consult.connect': unavailable,
      'consult.send': unavailable,
      'consult.receive': unavailable,
      'consult.leave': unavailable,
    };
  }
  // What the clinician does (start, join, leave) counts as activity for the idle lock; the worker's key messages and the long polls do not.
  return {
    'consult.start': (input) => {
      auth.activity();
      return consult.start(input);
    },
    'consult.invite': (input) => {
      auth.activity();
      return consult.invite(input);
    },
    'consult.invited': () => consult.invited(),
    'consult.connect': (input) => {
      auth.activity();
      return consult.connect(input);
    },
    'consult.send': (input) => consult.send(input),
    'consult.receive': (input) => consult.receive(input),
    'consult.leave': (input) => {
      auth.activity();
      return consult.leave(input);
    },
  };
}
