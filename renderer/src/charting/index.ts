/**
 * Charting's public face for the chart's tabs: the Write pane (vitals and a
 * SOAP note), the Notes pane (drafts, signed notes, addenda) and the problem
 * list. Nothing else in the renderer reaches into this folder.
 */
export { WritePane } from './WritePane';
export type { PaneProps } from './WritePane';
export { NotesPane } from './NotesPane';
export { ProblemList } from './ProblemList';
