/**
 * The consult.* calls of the handler registry. PLACEHOLDER until the consult
 * service lands (issue 11): every call answers CONSULT_UNAVAILABLE.
 */
import { AppError } from '../../../shared/app-error';
import type { SignInSurface } from '../session/sign-in-surface';
import type { Handler } from '../handler-registry';

type ConsultCall = 'consult.start' | 'consult.invite' | 'consult.invited' | 'consult.connect' | 'consult.send' | 'consult.receive' | 'consult.leave';

export function consultHandlers(_auth: SignInSurface | undefined): { [N in ConsultCall]: Handler<N> } {
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
