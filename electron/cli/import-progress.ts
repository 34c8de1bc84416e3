/**
 * The command line's progress lines for a long import (several bundles, or
 * one big one), written to stderr: bundles done of all, resources and
 * patients imported so far, files left and, from the rate in bytes so far,
 * about how long the rest takes. Counts and sizes only: never a file name,
 * a record, a name or an id (the lines may land in a terminal log).
 */
import { counted, timeLeftWords } from '../../shared/progress-words';

/** A single bundle at least this large makes the import long (it says it has started, since it runs as one call). */
export const BIG_BUNDLE_BYTES = 16 * 1024 * 1024;

export class ImportProgress {
  private readonly startedAt: number;
  private done = 0;
  private refused = 0;
  private bytesDone = 0;
  private resources = 0;
  private patients = 0;
  private readonly totalBytes: number;
  /** Whether the import is long enough to report (several bundles, or a big one). */
  readonly long: boolean;

  constructor(
    private readonly sizes: readonly number[],
    private readonly write: (line: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.startedAt = now();
    this.totalBytes = sizes.reduce((a, b) => a + b, 0);
    this.long = sizes.length > 1 || this.totalBytes >= BIG_BUNDLE_BYTES;
  }

  /** Before bundle `index` (from 0): a big one says it has started, since it is imported in one piece. */
  starting(index: number): void {
    const size = this.sizes[index] ?? 0;
    if (size >= BIG_BUNDLE_BYTES) this.write(`import: bundle ${index + 1} of ${this.sizes.length} (${Math.round(size / (1024 * 1024))} MB) is being imported in one piece\n`);
  }

  /** After bundle `index`: imported (with its counts) or refused (null). */
  finished(index: number, imported: { resources: number; patients: number } | null): void {
    this.done++;
    this.bytesDone += this.sizes[index] ?? 0;
    if (imported) {
      this.resources += imported.resources;
      this.patients += imported.patients;
    } else {
      this.refused++;
    }
    if (this.long) this.write(`${this.line()}\n`);
  }

  /** "import: 3 of 10 bundles done: 12,345 resources, 40 patients so far; 7 files left, about 2 min left". */
  line(): string {
    const left = this.sizes.length - this.done;
    const refused = this.refused > 0 ? ` (${this.refused} refused)` : '';
    const head = `import: ${this.done} of ${this.sizes.length} bundles done${refused}: ${counted(this.resources, 'resource', 'resources')}, ${counted(this.patients, 'patient', 'patients')} so far`;
    if (left === 0) return `${head}; no files left`;
    const elapsed = (this.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.bytesDone / elapsed : 0;
    const time = rate > 0 ? `, ${timeLeftWords((this.totalBytes - this.bytesDone) / rate)}` : '';
    return `${head}; ${counted(left, 'file', 'files')} left${time}`;
  }
}
