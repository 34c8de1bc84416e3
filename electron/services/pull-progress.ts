/**
 * Counts a pull run's progress for the sync status (a long first sync): the
 * resources received and the distinct patients written so far, the run's
 * size as the server estimated it on the first page (`remaining`, asked
 * with estimate=1; an older server sends none and only counts are shown),
 * and the time left at the rate so far. Reported only once the run is
 * longer than one page. Holds patient ids only in memory for the run, never
 * shows them: the progress is counts. Never put record content here.
 */
import type { SyncProgress } from '../../shared/contract';
import type { PullReply } from '../../shared/sync-api';

export class PullProgress {
  private readonly startedAt: number;
  private readonly patients = new Set<string>();
  private resources = 0;
  private total: number | null = null;
  private pages = 0;
  private long = false;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.startedAt = now();
  }

  /** A page arrived: the first one's `remaining` sizes the run; a page saying more makes the run long. */
  page(reply: PullReply): void {
    if (this.pages === 0 && reply.remaining !== undefined) this.total = reply.resources.length + reply.remaining;
    this.pages++;
    if (reply.more) this.long = true;
  }

  /** A slice was applied: `received` resources of the page, written to `patients`. */
  slice(received: number, patients: readonly string[]): void {
    this.resources += received;
    for (const id of patients) this.patients.add(id);
  }

  /** What the status shows now, or null while the run is short (one page so far, nothing more). */
  snapshot(): SyncProgress | null {
    if (!this.long) return null;
    // The server's count may grow meanwhile (new results): never "12,000 of about 10,000".
    const total = this.total === null ? null : Math.max(this.total, this.resources);
    const elapsed = (this.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.resources / elapsed : 0;
    const secondsLeft = total !== null && this.resources > 0 && rate > 0 ? (total - this.resources) / rate : null;
    return { patients: this.patients.size, resources: this.resources, resourcesTotal: total, secondsLeft };
  }
}
