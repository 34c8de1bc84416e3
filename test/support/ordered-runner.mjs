// The test runner run-tests.sh starts: node:test's own runner (run()), given
// the test files in the order run-tests.sh lists them, which `node --test`
// would sort by name. The slowest files go first, so none starts late and
// runs alone while the other slot idles. Same settings as `node --test
// --test-concurrency=N --test-timeout=600000 --test-force-exit` with the spec
// reporter on stdout and ./file-times-reporter.mjs on stderr; each file runs
// in its own child process with this process's --import tsx. The exit code
// is 1 when any test failed. It runs tests only: never reads their output.
// Usage: node --import tsx test/support/ordered-runner.mjs <concurrency> <file>...
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import fileTimes from './file-times-reporter.mjs';

const [concurrency, ...files] = process.argv.slice(2);
if (!Number(concurrency) || files.length === 0) {
  console.error('usage: ordered-runner.mjs <concurrency> <file>...');
  process.exit(2);
}

const stream = run({ files, concurrency: Number(concurrency), timeout: 600_000, forceExit: true });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
stream.compose(new spec()).pipe(process.stdout);
stream.compose(fileTimes).pipe(process.stderr);
