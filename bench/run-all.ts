/**
 * npm run bench [-- --quick]: every benchmark, one JSON object on stdout.
 * Machines are shared and noisy: each figure comes with a baseline measured
 * in the same run, and medians. The issue 8 figures (drain, first full
 * sync, sign-in round trip) are measured on the backend before issue 8 and
 * on this one, alternating, and summed up under `issue8` with their
 * after/before ratios. BENCH_REPETITIONS sets the sync runs per backend;
 * `--only auth,sync` runs some benchmarks alone (while investigating);
 * `push` is issue 9's concurrent push benchmark (SQLite and PostgreSQL,
 * against main before issue 9's backend work). `sframe` is SFrame
 * encrypt+decrypt per 720p frame in a Chromium worker against bare AES-GCM.
 * `print` is issue 13's PDF export of a 200-resource chart (page.pdf() with
 * the print view mounted, against the same page without it).
 * `privacy` is issue 13's monitoring over a simulated month on PostgreSQL.
 * `scale` is issue 14's full panel (2,000 patients, 1M resources) against a
 * plaintext baseline, with the first sync from the backend process.
 */
import { runAuthBench } from './auth-bench';
import { backendVersions } from './backend-versions';
import { runCacheBench } from './cache-bench';
import { runConsultBench } from './consult-bench';
import { runPrivacyBench } from './privacy-monitoring-bench';
import { runPrintBench } from './print-bench';
import { runPushBench } from './push-bench';
import { runScaleBench } from './scale-bench';
import { runSFrameBench } from './sframe-bench';
import { runSyncBench } from './sync-bench';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? null : new Set((process.argv[onlyAt + 1] ?? '').split(','));
const runs = (name: string) => only === null || only.has(name);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? (quick ? 2 : 3));
const started = Date.now();
const { versions, baselineMissing } = backendVersions();
const cache = runs('cache') ? await runCacheBench(quick) : null;
const auth = runs('auth') ? ((await runAuthBench(quick, versions)) as Json) : null;
const sync = runs('sync') ? ((await runSyncBench(quick, versions, repetitions)) as Json) : null;
const push = runs('push') ? await runPushBench(quick, Number(process.env.BENCH_REPETITIONS ?? 2)) : null;
const consult = runs('consult') ? await runConsultBench(quick) : null;
const sframe = runs('sframe') ? await runSFrameBench(quick) : null;
const privacy = runs('privacy') ? await runPrivacyBench(quick) : null;
const print = runs('print') ? await runPrintBench(quick) : null;
const scale = runs('scale') ? await runScaleBench(quick) : null;

const signIn = auth?.sign_in_round_trip;
const issue8 = {
  baseline: baselineMissing ?? `${versions[0]!.source} (before) vs the work tree (after)`,
  ...(sync
    ? {
        drain: { changes: sync.drain.changes, before_s: sync.drain.before?.median_s, after_s: sync.drain.after?.median_s, ratio: sync.drain.ratio_after_to_before },
        full_sync: { resources: sync.full_sync.resources, before_s: sync.full_sync.before?.median_s, after_s: sync.full_sync.after?.median_s, ratio: sync.full_sync.ratio_after_to_before },
        audit_upload: { entries: sync.audit_upload.entries, before_s: sync.audit_upload.before?.median_s, after_s: sync.audit_upload.after?.median_s, ratio: sync.audit_upload.ratio_after_to_before },
        sync_runs_per_backend: repetitions,
      }
    : {}),
  ...(signIn
    ? {
        sign_in_round_trip: {
          before: signIn.before ? { p50_ms: signIn.before.total.p50_ms, p95_ms: signIn.before.total.p95_ms } : null,
          after: { p50_ms: signIn.after.total.p50_ms, p95_ms: signIn.after.total.p95_ms },
          ratio_p50: signIn.ratio_after_to_before.p50,
          ratio_p95: signIn.ratio_after_to_before.p95,
          p95_within_10_percent: auth!.targets.sign_in_p95_within_10_percent_of_before,
          rounds_per_backend: signIn.after.total.n,
        },
      }
    : {}),
};
process.stdout.write(JSON.stringify({ mode: quick ? 'quick' : 'full', node: process.version, issue8, cache, auth, sync, push, consult, sframe, privacy, print, scale, seconds: Math.round((Date.now() - started) / 1000) }, null, 2) + '\n');
process.exit(0);
