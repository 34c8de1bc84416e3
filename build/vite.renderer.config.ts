// Builds the renderer (renderer/) into dist/renderer with relative asset paths (served at
// the organisation's https app origin in the app, from localhost in the tests, and by the
// backend at /join for the patient) and the shared Content-Security-Policy as a meta tag.
// Three pages: index.html (the desktop app), join.html (the patient's join page) and
// privacy-console.html (the privacy officer's console, served by the backend at /console/); the
// consultation media worker is bundled as its own module file (worker-src 'self').
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { META_CONTENT_SECURITY_POLICY } from '../shared/content-security-policy.ts';

const page = (name: string) => fileURLToPath(new URL(`../renderer/${name}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('../renderer/', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: { input: { index: page('index.html'), join: page('join.html'), 'privacy-console': page('privacy-console.html') } },
  },
  // The media worker is an ES module worker (new Worker(new URL(...), { type: 'module' })).
  worker: { format: 'es' },
  plugins: [
    {
      name: 'content-security-policy-meta',
      transformIndexHtml: (html) =>
        html.replace('<!--csp-->', `<meta http-equiv="Content-Security-Policy" content="${META_CONTENT_SECURITY_POLICY}" />`),
    },
  ],
});
