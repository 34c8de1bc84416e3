/**
 * The export surface wired as the app wires it, on a real encrypted cache:
 * the handler registry, a SaveDestination that answers with a path in a real
 * folder of the test's own (or cancels, as the clinician would in the OS
 * dialog), and a PrintOutput standing in for webContents.print/printToPDF
 * (the Electron binary cannot run here) that records what it was asked.
 */
import { join } from 'node:path';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../../electron/services/handler-registry';
import { createExportSurface, type PrintOutput, type SaveDestination } from '../../electron/services/export/export-surface';
import type { ExportPolicy } from '../../electron/services/export/export-policy';
import type { Caller } from '../../electron/services/caller-policy';
import type { CacheSession } from '../../electron/services/cache-session';
import type { ExportFormat } from '../../shared/contract';

export const TRUSTED = { trustedOrigins: ['app://clinician'], onInternalError: (name: string, err: unknown) => console.error('[internal]', name, err) };
export const WINDOW_1: Caller = { url: 'app://clinician/index.html', isMainFrame: true, windowId: 1 };
export const WINDOW_2: Caller = { url: 'app://clinician/index.html', isMainFrame: true, windowId: 2 };

export class FolderDestination implements SaveDestination {
  /** What the dialog was asked, in order. */
  readonly asked: Array<{ format: string; suggestedName: string; caller: Caller }> = [];
  /** The next answer: a file name inside `folder`, an absolute path, or null (cancelled). */
  answer: string | null = 'summary.json';
  constructor(readonly folder: string) {}
  async choose(request: { format: 'fhir-json' | 'pdf'; suggestedName: string }, caller: Caller): Promise<string | null> {
    this.asked.push({ ...request, caller });
    if (this.answer === null) return null;
    return this.answer.startsWith('/') ? this.answer : join(this.folder, this.answer);
  }
}

export class RecordingPrinter implements PrintOutput {
  readonly printed: Caller[] = [];
  readonly rendered: Caller[] = [];
  printAnswer = true;
  pdfBytes: Uint8Array = Buffer.from('%PDF-1.4\n% stand-in\n');
  async print(caller: Caller): Promise<boolean> {
    this.printed.push(caller);
    return this.printAnswer;
  }
  async pdf(caller: Caller): Promise<Uint8Array> {
    this.rendered.push(caller);
    return this.pdfBytes;
  }
}

export interface ExportRig {
  registry: HandlerRegistry;
  destination: FolderDestination;
  printer: RecordingPrinter;
  policy: ExportPolicy;
  now: { value: Date };
  call(name: string, payload: unknown, caller?: Caller): ReturnType<typeof dispatch>;
}

export function exportRig(session: () => CacheSession | null, folder: string, formats: ExportFormat[] = ['fhir-json', 'pdf', 'printer']): ExportRig {
  const destination = new FolderDestination(folder);
  const printer = new RecordingPrinter();
  const policy: ExportPolicy = { formats, screenCaptureProtection: true };
  const now = { value: new Date('2026-11-26T09:00:00.000Z') };
  const exports = createExportSurface({ session, policy: () => policy, destination, printer, clock: () => now.value });
  const registry = createHandlerRegistry({ session, problem: () => null, actor: () => session()?.context.actor ?? null }, undefined, { exports });
  return { registry, destination, printer, policy, now, call: (name, payload, caller = WINDOW_1) => dispatch(registry, name, payload, caller, TRUSTED) };
}
