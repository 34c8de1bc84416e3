/**
 * The patient's join page entry. First of all it takes the call id and the
 * one-time token out of the URL fragment and removes them from the address
 * bar (history.replaceState), so the token is not left in the history, a
 * bookmark, a screenshot of the address bar or a shared screen; then it
 * mounts the page with them. Never stores the token (no storage, no cookie,
 * no log) and never loads anything from another origin.
 */
import { createRoot } from 'react-dom/client';
import { parseJoinFragment } from '../../shared/consult/join-link';
// Light or dark as the patient's device is set.
import '../src/shell/appearance';
import '../src/styles.css';
import { JoinPage } from './JoinPage';
import './join.css';

const invitation = parseJoinFragment(location.hash);
if (location.hash) history.replaceState(null, '', `${location.pathname}${location.search}`);

// No StrictMode: its double effects in development would spend the one-time link on a first, discarded join.
createRoot(document.getElementById('root')!).render(<JoinPage invitation={invitation} />);
