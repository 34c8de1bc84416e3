// Lint: TypeScript rules plus the import table of ARCHITECTURE.md, so a file
// importing across a process boundary fails `npm test`, not a review.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const noNode = { paths: nodeBuiltins.map((name) => ({ name, message: 'Node built-ins are not available here.' })) };
const noElectron = { name: 'electron', message: 'Only the Electron glue files may import electron.' };
const ELECTRON_GLUE = ['electron/main.ts', 'electron/preload.ts', 'electron/ipc-bridge.ts', 'electron/window-policy.ts', 'electron/app-protocol.ts', 'electron/net-glue.ts', 'electron/keychain-helper-glue.ts', 'electron/export-glue.ts'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx,js,mjs}'],
    plugins: { import: importPlugin },
    settings: {
      'import/resolver': { typescript: { project: ['tsconfig.json', 'renderer/tsconfig.json'], noWarnOnMultipleProjects: true }, node: true },
    },
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './shared', from: ['./electron', './renderer', './server', './test', './bench'], message: 'shared/ runs everywhere: it imports only shared/ and pure libraries.' },
            { target: './renderer', from: ['./electron', './server'], message: 'The renderer talks to main only through window.clinician.' },
            { target: './electron', from: ['./renderer', './server'], message: 'electron/ never imports renderer/ or server/.' },
            { target: './server', from: ['./electron', './renderer'], message: 'server/ never imports electron/ or renderer/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}', 'shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron, ...noNode.paths] }] },
  },
  {
    // The media worker holds every media key and runs without a DOM: no page globals, no React, nothing from the pages.
    files: ['renderer/consult-worker/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...['window', 'document', 'localStorage', 'sessionStorage', 'navigator', 'location', 'parent', 'top', 'opener'].map((name) => ({ name, message: 'The media worker has no DOM.' }))],
      'no-restricted-imports': ['error', { paths: [noElectron, ...noNode.paths, { name: 'react', message: 'The media worker has no UI.' }], patterns: [{ group: ['**/src/**', '**/join/**', '**/consult/*.tsx'], message: 'The media worker imports only shared/ and its own folder.' }] }],
    },
  },
  {
    files: ['electron/**/*.ts', 'server/**/*.ts'],
    ignores: ELECTRON_GLUE,
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron] }] },
  },
);
