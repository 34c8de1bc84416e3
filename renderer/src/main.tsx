/** Renderer entry: mounts the app. Nothing here may touch data directly. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
// Paints the OS's theme before anything else (and follows it while the setting is "system").
import './shell/appearance';
import { DemoBanner } from './DemoBanner';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <DemoBanner />
    <App />
  </StrictMode>,
);
