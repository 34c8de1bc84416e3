/**
 * Governed export and print (issue 13), the ExportSurface behind
 * export.options / export.fhir / print.prepare / print.output. Policy
 * (exportFormats) decides what may leave; each export or print needs a reason
 * (the contract's exportReasonSchema), reads the chart and writes its audit
 * entry in one SQLite transaction, and leaves a mark on what it produces (the
 * Bundle's restricted confidentiality and author; the print view's
 * watermark). A refused attempt (format not allowed, patient not in the
 * cache) is audited too, outcome 4, with nothing read. The destination comes
 * only from SaveDestination (the OS save dialog in the app); the contract's
 * strict inputs cannot carry a path. Never write a file, print or return a
 * chart without its audit entry: the entry (with the read) is committed
 * first, then the file is written and renamed into place; if the write
 * fails, a follow-up entry (outcome 8, nothing read) says so. An entry for a
 * file that never appeared is the safer failure (a crash between the two).
 * The dialog's answer is re-checked when it returns: the cache locked, a
 * break-the-glass grant ended (`recheck`), a file the dialog never
 * confirmed (a name without extension whose '.json' twin exists).
 * Every read and its entries are one store call (exportablePatient,
 * exportSummary, preparePrint: ../store/operations/export-reads.ts); this
 * file holds no SQL.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { AppError } from '../../../shared/app-error';
import type { CallOutput, ExportFormat, ExportReason, ParsedInput } from '../../../shared/contract';
import type { ExportSurface } from '../app-surfaces';
import type { Caller } from '../caller-policy';
import type { CacheSession } from '../cache-session';
import { writeFileAtomically } from './atomic-file';
import { exportAuditRecords } from './export-audit';
import type { ExportPolicy } from './export-policy';
import { exportReasonChoices, reasonText } from './export-reasons';
import { PrintTickets } from './print-tickets';

/** The label on every printed or PDF page, and the Bundle's confidentiality in words. */
export const WATERMARK_LABEL = 'Confidential';

/** Where to save: the OS save dialog in the app (export-glue.ts); a folder of the test's own in tests. */
export interface SaveDestination {
  /** An absolute path the clinician chose, or null when they cancelled. */
  choose(request: { format: 'fhir-json' | 'pdf'; suggestedName: string }, caller: Caller): Promise<string | null>;
}

/** The caller's window, printed (export-glue.ts: webContents.print / printToPDF). */
export interface PrintOutput {
  /** Through the OS print dialog; false when the clinician cancelled it. */
  print(caller: Caller): Promise<boolean>;
  /** The window's print view as PDF bytes (A4, backgrounds). */
  pdf(caller: Caller): Promise<Uint8Array>;
}

export interface ExportSurfaceDeps {
  /** The open cache, or null while locked. */
  session(): CacheSession | null;
  /** IT's policy now (it may change while the app runs). */
  policy(): ExportPolicy;
  destination: SaveDestination;
  printer: PrintOutput;
  clock?: () => Date;
  /**
   * Called with the session when the save dialog returns, before anything is
   * read: whatever ended while it was open ends now (the app passes the glass
   * grant check, so a patient whose grant ended is not found).
   */
  recheck?(session: CacheSession): void | Promise<void>;
}

const REFUSED = 'Your organisation does not allow this here.';

function disabled(format: ExportFormat): AppError {
  const what = format === 'fhir-json' ? 'Export as a FHIR file' : format === 'pdf' ? 'Saving as PDF' : 'Printing';
  return new AppError('EXPORT_DISABLED', `${what} is turned off on this computer. ${REFUSED}`);
}

const STALE_PRINT = 'This print is no longer valid. Prepare it again.';

function lockedMeanwhile(): AppError {
  return new AppError('CACHE_NOT_OPEN', 'The patient cache was locked; nothing was saved.');
}

/** A file name without the patient's name or id (file names travel: mail subjects, sync clients, recent-file lists). */
function suggestedName(kind: 'fhir-json' | 'pdf', at: Date): string {
  const stamp = at.toISOString().slice(0, 16).replace(/[:T]/g, '-');
  return kind === 'fhir-json' ? `patient-summary-${stamp}.json` : `patient-summary-${stamp}.pdf`;
}

/**
 * The dialog's answer with its extension. When the extension was added, the
 * dialog never asked about overwriting that name: an existing file there is
 * refused (choose again), never replaced.
 */
function withExtension(path: string, ext: '.json' | '.pdf'): string {
  if (extname(path) !== '') return path;
  const adjusted = `${path}${ext}`;
  if (existsSync(adjusted)) throw new AppError('INVALID_INPUT', `A file named like that already exists. Choose another name, or type the full name ending in ${ext}.`);
  return adjusted;
}

export function createExportSurface(deps: ExportSurfaceDeps): ExportSurface {
  const clock = deps.clock ?? (() => new Date());
  const tickets = new PrintTickets(() => clock().getTime());

  const requireSession = (): CacheSession => {
    const s = deps.session();
    if (!s) throw new AppError('CACHE_NOT_OPEN', 'The patient cache is not open.');
    return s;
  };
  const allowed = (format: ExportFormat) => deps.policy().formats.includes(format);

  /** A refused attempt is visible to the privacy officer: audited, outcome 4, nothing read. */
  const refuse = async (session: CacheSession, subtype: 'export' | 'print', patientId: string, format: ExportFormat, reason: ExportReason, error: AppError): Promise<never> => {
    await session.store.call('appendAudit', {
      records: exportAuditRecords({ subtype, patientId, format, reasonCode: reason.code, query: reasonText(reason), read: [`Patient/${patientId}`], outcome: '4' }),
    });
    throw error;
  };
  /** Whether the patient is in the cache; when not, the refused attempt is audited in the same call. */
  const exportable = (session: CacheSession, subtype: 'export' | 'print', patientId: string, format: ExportFormat, reason: ExportReason) =>
    session.store.call('exportablePatient', { patientId, refusal: { subtype, format, reasonCode: reason.code, query: reasonText(reason) } });
  const notFound = () => new AppError('NOT_FOUND', "That patient is not in this computer's cache.");

  return {
    options(): CallOutput<'export.options'> {
      return { formats: [...deps.policy().formats], reasons: exportReasonChoices() };
    },

    async exportFhir(input: ParsedInput<'export.fhir'>, caller: Caller): Promise<CallOutput<'export.fhir'>> {
      const { patientId, reason } = input;
      const session = requireSession();
      if (!allowed('fhir-json')) await refuse(session, 'export', patientId, 'fhir-json', reason, disabled('fhir-json'));
      if (!(await exportable(session, 'export', patientId, 'fhir-json', reason))) throw notFound();
      const chosen = await deps.destination.choose({ format: 'fhir-json', suggestedName: suggestedName('fhir-json', clock()) }, caller);
      if (chosen === null) return { saved: false, resources: 0 };
      // The dialog took time: the cache may have been locked (a new session), a grant ended or the policy changed meanwhile.
      if (deps.session() !== session) throw lockedMeanwhile();
      await deps.recheck?.(session);
      if (!allowed('fhir-json')) await refuse(session, 'export', patientId, 'fhir-json', reason, disabled('fhir-json'));
      const target = withExtension(chosen, '.json');
      const author = { actor: session.context.actor, name: session.context.actorName ?? null };
      // The read and its entry are committed first (one store call; a patient gone meanwhile is a refusal, audited):
      // a crash after this leaves an entry for a file that may not exist, never a file without its entry.
      const summary = await session.store.call('exportSummary', { patientId, author, now: clock().toISOString(), reasonCode: reason.code, query: reasonText(reason) });
      if (!summary.found) throw notFound();
      try {
        writeFileAtomically(target, Buffer.from(JSON.stringify(summary.bundle, null, 2)));
      } catch (err) {
        try {
          if (deps.session() === session) {
            await session.store.call('appendAudit', {
              records: exportAuditRecords({ subtype: 'export', patientId, format: 'fhir-json', reasonCode: reason.code, query: reasonText(reason), read: [], outcome: '8' }),
            });
          }
        } catch {
          // The follow-up could not be written (a full disk): the attempt's entry stands, which is the safer record.
        }
        throw err;
      }
      return { saved: true, resources: summary.read.length };
    },

    async preparePrint(input: ParsedInput<'print.prepare'>, caller: Caller): Promise<CallOutput<'print.prepare'>> {
      const { patientId, reason, output } = input;
      const session = requireSession();
      if (!allowed(output)) await refuse(session, 'print', patientId, output, reason, disabled(output));
      const at = clock();
      // chart.open's own read (with its read entries) and the print's entries in one store call; a patient not in the
      // cache is a refusal, audited in that call.
      const answer = await session.store.call('preparePrint', { patientId, output, reasonCode: reason.code, query: reasonText(reason) });
      if (!answer.found) throw notFound();
      // The entries are committed: only now is there a ticket to print with.
      const printId = tickets.issue({ patientId, output, session }, caller);
      const watermark = { clinician: (session.context.actorName ?? session.context.actor).slice(0, 200), at: at.toISOString(), label: WATERMARK_LABEL };
      return { printId, chart: answer.chart, watermark };
    },

    async output(input: ParsedInput<'print.output'>, caller: Caller): Promise<CallOutput<'print.output'>> {
      const session = requireSession();
      const ticket = tickets.take(input.printId, caller, session);
      if (!ticket) throw new AppError('INVALID_INPUT', STALE_PRINT);
      if (!allowed(ticket.output)) throw disabled(ticket.output);
      if (ticket.output === 'printer') return { done: await deps.printer.print(caller) };
      const chosen = await deps.destination.choose({ format: 'pdf', suggestedName: suggestedName('pdf', clock()) }, caller);
      if (chosen === null) return { done: false };
      if (deps.session() !== session) throw lockedMeanwhile();
      await deps.recheck?.(session);
      if (!(await session.store.call('exportablePatient', { patientId: ticket.patientId, refusal: null }))) throw notFound();
      const target = withExtension(chosen, '.pdf');
      const pdf = await deps.printer.pdf(caller);
      writeFileAtomically(target, pdf);
      return { done: true };
    },
  };
}
