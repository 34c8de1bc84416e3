/**
 * Electron glue for governed export and print (issue 13), the only part of
 * it that touches Electron: the OS save dialog (the one place a destination
 * comes from), printing or PDF-rendering the caller's own window, and the
 * window's content protection. Everything else (policy, reasons, audit, the
 * Bundle, the file write) is plain Node in services/export. Never take a path
 * from the renderer, never print a window other than the caller's, and never
 * turn content protection off unless policy says so.
 */
import { BrowserWindow, dialog, webContents, type FileFilter, type SaveDialogOptions, type WebContents } from 'electron';
import { AppError } from '../shared/app-error';
import { originOf, type Caller } from './services/caller-policy';
import type { PrintOutput, SaveDestination } from './services/export/export-surface';

/** The caller's web contents: the sender's id, and still showing the same origin (a navigated or closed window is not it). */
function contentsOf(caller: Caller): WebContents {
  const contents = caller.windowId === undefined ? undefined : webContents.fromId(caller.windowId);
  if (!contents || contents.isDestroyed() || originOf(contents.getURL()) !== originOf(caller.url)) {
    throw new AppError('INVALID_INPUT', 'This window can no longer print. Prepare it again.');
  }
  return contents;
}

const FILTERS: Record<'fhir-json' | 'pdf', FileFilter> = {
  'fhir-json': { name: 'FHIR JSON', extensions: ['json'] },
  pdf: { name: 'PDF', extensions: ['pdf'] },
};

/** The OS save dialog, modal to the caller's window. */
export const saveDialogDestination: SaveDestination = {
  async choose(request, caller) {
    const parent = BrowserWindow.fromWebContents(contentsOf(caller));
    const options: SaveDialogOptions = { title: 'Save a confidential copy', defaultPath: request.suggestedName, filters: [FILTERS[request.format]], properties: ['showOverwriteConfirmation'] };
    const result = parent ? await dialog.showSaveDialog(parent, options) : await dialog.showSaveDialog(options);
    return result.canceled || !result.filePath ? null : result.filePath;
  },
};

/** webContents.print (the OS print dialog, never silent) and printToPDF of the caller's window. */
export const windowPrintOutput: PrintOutput = {
  print(caller) {
    const contents = contentsOf(caller);
    return new Promise<boolean>((resolve, reject) => {
      contents.print({ silent: false, printBackground: true }, (success, failureReason) => {
        if (success) resolve(true);
        else if (/cancel/i.test(failureReason)) resolve(false);
        else reject(new AppError('INTERNAL', 'The page could not be printed.'));
      });
    });
  },
  async pdf(caller) {
    return contentsOf(caller).printToPDF({ pageSize: 'A4', printBackground: true, displayHeaderFooter: false, preferCSSPageSize: true });
  },
};

/**
 * Content protection by policy (screenCaptureProtection, default on): the
 * window is excluded from screenshots, recorders and screen sharing where
 * the OS supports it (Windows 10 2004+, macOS; no effect on Linux). Call at
 * creation, and again when policy changes.
 */
export function applyContentProtection(win: BrowserWindow, enabled: boolean): void {
  if (win.isDestroyed()) return;
  win.setContentProtection(enabled);
}
