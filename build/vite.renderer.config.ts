// Builds the renderer (renderer/) into dist/renderer with relative asset paths (served at
// the organisation's https app origin in the app, from localhost in the tests) and
// the shared Content-Security-Policy as a meta tag.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { META_CONTENT_SECURITY_POLICY } from '../shared/content-security-policy.ts';

export default defineConfig({
  root: fileURLToPath(new URL('../renderer/', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  plugins: [
    {
      name: 'content-security-policy-meta',
      transformIndexHtml: (html) =>
        html.replace('<!--csp-->', `<meta http-equiv="Content-Security-Policy" content="${META_CONTENT_SECURITY_POLICY}" />`),
    },
  ],
});
