/**
 * A second process holding a cache open, to be SIGKILLed by a test: opens the
 * existing cache in CACHE_CHILD_DATA_DIR with the keychain service
 * CACHE_CHILD_KEYCHAIN_SERVICE and prints "open". In mode "write" it then
 * charts without pause (one change per transaction, each carrying the marker
 * text CACHE_CHILD_MARKER so a test can look for it in a copy's bytes) and
 * prints "wrote <n>" after every 10 changes. If the open fails it prints
 * "refused <code>" and exits 1. Test support only; it runs until killed.
 */
import { AppError } from '../../shared/app-error';
import { openCacheSession, type CacheSession } from '../../electron/services/cache-session';
import { recordChange } from '../../electron/services/outbox';
import { createOsSecretStore } from '../../electron/services/secret-store';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

let session: CacheSession;
try {
  session = await openCacheSession({ dataDir: env('CACHE_CHILD_DATA_DIR'), secrets: createOsSecretStore(env('CACHE_CHILD_KEYCHAIN_SERVICE')), actor: 'dr.child', create: false });
} catch (err) {
  process.stdout.write(`refused ${err instanceof AppError ? err.code : 'INTERNAL'}\n`);
  process.exit(1);
}
process.stdout.write('open\n');

if (process.env.CACHE_CHILD_MODE === 'write') {
  const marker = env('CACHE_CHILD_MARKER');
  let n = 0;
  const chart = async (): Promise<void> => {
    await recordChange(session, { resourceType: 'Observation', id: `child-${n}`, status: 'final', code: { text: marker }, subject: { reference: 'Patient/child-p1' }, valueQuantity: { value: n, unit: '/min' } });
    n++;
    if (n % 10 === 0) process.stdout.write(`wrote ${n}\n`);
    setImmediate(chart);
  };
  chart();
} else {
  setInterval(() => undefined, 1 << 30);
}
