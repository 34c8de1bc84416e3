/**
 * npm run bench [-- --quick]: every benchmark, one JSON object on stdout.
 * Machines are shared and noisy: each figure comes with a baseline measured
 * in the same run, and medians.
 */
import { runAuthBench } from './auth-bench';
import { runCacheBench } from './cache-bench';
import { runSyncBench } from './sync-bench';

const quick = process.argv.includes('--quick');
const started = Date.now();
const cache = await runCacheBench(quick);
const auth = await runAuthBench(quick);
const sync = await runSyncBench(quick);
process.stdout.write(JSON.stringify({ mode: quick ? 'quick' : 'full', node: process.version, cache, auth, sync, seconds: Math.round((Date.now() - started) / 1000) }, null, 2) + '\n');
process.exit(0);
