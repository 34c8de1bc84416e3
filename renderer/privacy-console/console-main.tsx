/**
 * The privacy console's entry (served by the backend at /console/). Mounts
 * the console; light or dark as the officer's device is set. Never stores
 * anything (no storage, no cookie written from script: the session cookie
 * is HttpOnly) and never loads anything from another origin.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '../src/shell/appearance';
import '../src/styles.css';
import { ConsoleApp } from './ConsoleApp';
import './privacy-console.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ConsoleApp />
  </StrictMode>,
);
