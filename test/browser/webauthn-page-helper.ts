/**
 * For the backend tests: puts @simplewebauthn/browser's two ceremonies on
 * the page (as window.__webauthn), with the PRF salt converted to bytes the
 * way the renderer does it. Bundled by esbuild and injected as an init script.
 */
import { createPasskey, usePasskey } from '../../renderer/src/passkey-ceremony';

Object.defineProperty(globalThis, '__webauthn', { value: { createPasskey, usePasskey } });
