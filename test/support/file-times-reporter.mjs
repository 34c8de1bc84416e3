// A node:test reporter that prints, after the run, the test files that took
// longest (sum of their top-level tests) and the run's wall time, so a slow
// file shows up before CI's time limit does. It reports times only: never a
// test's output or data. It writes synchronously to stderr when the run's
// summary arrives (at its 'todo' count): with --test-force-exit the runner
// exits right after the summary, before a reporter's stream is flushed.
import { writeSync } from 'node:fs';

export default async function* fileTimes(source) {
  const started = Date.now();
  const perFile = new Map();
  let printed = false;
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      const file = event.data.file ?? '(unknown file)';
      perFile.set(file, (perFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
    if (!printed && event.type === 'test:diagnostic' && event.data.nesting === 0 && /^todo /.test(event.data.message)) {
      printed = true;
      writeSync(2, table(perFile, started));
    }
  }
  if (!printed) writeSync(2, table(perFile, started));
  yield '';
}

function table(perFile, started) {
  const root = process.cwd() + '/';
  const rows = [...perFile.entries()].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
  let text = `\nslowest test files (of ${rows.length}; ${(total / 1000).toFixed(0)} s in tests, ${((Date.now() - started) / 1000).toFixed(0)} s wall):\n`;
  for (const [file, ms] of rows.slice(0, Number(process.env.CLINICIAN_TEST_SLOWEST ?? 25))) {
    text += `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file.startsWith(root) ? file.slice(root.length) : file}\n`;
  }
  return text;
}
