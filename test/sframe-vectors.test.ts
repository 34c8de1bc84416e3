/**
 * The official RFC 9605 test vectors (../shared/vectors, the file the RFC
 * cites), all 297: 289 header encodings and parses, the 3 AES-CTR + HMAC
 * AEAD cases of cipher suites 1-3, and 5 full SFrame encryptions (one per
 * suite) with every intermediate value (key and salt labels, secret, key,
 * salt, nonce, AAD, ciphertext) and the decryption back. KID and CTR are read
 * from the JSON as digit strings, never through Number, so the values above
 * 2^53 (up to 2^64 - 1) are checked exactly. The five full vectors are
 * run again in a Chromium dedicated worker, where the call's frames are
 * encrypted, so Chromium's WebCrypto is held to them too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { chromium } from 'playwright-core';
import { CHROMIUM_PATH, mediaChromiumArgs } from './support/media-browser';
import { deriveSFrameKey, encodeSFrameHeader, parseSFrameHeader, sframeDecrypt, sframeEncrypt, type CipherSuiteId } from '../shared/sframe/index';
import { cipherSuite, CTR_HMAC_ENC_KEY_LENGTH } from '../shared/sframe/cipher-suites';
import { aeadOpen, aeadSeal, importAeadKey } from '../shared/sframe/sframe-aead';
import { deriveKeyMaterial, sframeKeyLabel, sframeSaltLabel } from '../shared/sframe/sframe-key-schedule';
import { sframeNonce } from '../shared/sframe/sframe-codec';

const VECTORS_URL = new URL('../../shared/vectors/rfc9605-sframe-test-vectors.json', import.meta.url);

interface HeaderVector { kid: string; ctr: string; encoded: string }
interface AeadVector { cipher_suite: CipherSuiteId; key: string; enc_key: string; auth_key: string; nonce: string; aad: string; pt: string; ct: string }
interface SFrameVector {
  cipher_suite: CipherSuiteId; kid: string; ctr: string; base_key: string; sframe_key_label: string; sframe_salt_label: string;
  sframe_secret: string; sframe_key: string; sframe_salt: string; metadata: string; nonce: string; aad: string; pt: string; ct: string;
}

/** Parses the vector file with every kid and ctr kept as its exact decimal digits. */
function loadVectors(): { header: HeaderVector[]; aes_ctr_hmac: AeadVector[]; sframe: SFrameVector[] } {
  const text = readFileSync(VECTORS_URL, 'utf8');
  const quoted = text.replace(/"(kid|ctr)"(\s*):(\s*)(\d+)/g, '"$1"$2:$3"$4"');
  const vectors = JSON.parse(quoted) as ReturnType<typeof loadVectors>;
  for (const v of [...vectors.header, ...vectors.sframe]) {
    assert.equal(typeof v.kid, 'string', 'a kid escaped exact parsing');
    assert.equal(typeof v.ctr, 'string', 'a ctr escaped exact parsing');
  }
  return vectors;
}

const vectors = loadVectors();
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (text: string): Uint8Array<ArrayBuffer> => {
  assert.match(text, /^([0-9a-f]{2})*$/);
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
};
const reproduced = { header: 0, aes_ctr_hmac: 0, sframe: 0 };

test('the vector file holds 289 header, 3 AES-CTR + HMAC and 5 full SFrame cases, with KIDs and CTRs above 2^53', () => {
  assert.equal(vectors.header.length, 289);
  assert.equal(vectors.aes_ctr_hmac.length, 3);
  assert.equal(vectors.sframe.length, 5);
  assert.ok(vectors.header.some((v) => BigInt(v.kid) === (1n << 64n) - 1n));
  assert.ok(vectors.header.some((v) => BigInt(v.ctr) === (1n << 64n) - 1n));
  assert.ok(vectors.header.filter((v) => BigInt(v.kid) > 2n ** 53n || BigInt(v.ctr) > 2n ** 53n).length > 0);
});

test('every header vector encodes to its bytes and parses back to the exact kid and ctr', () => {
  for (const v of vectors.header) {
    const kid = BigInt(v.kid);
    const ctr = BigInt(v.ctr);
    const label = `kid ${v.kid} ctr ${v.ctr}`;
    assert.equal(hex(encodeSFrameHeader(kid, ctr)), v.encoded, label);
    const parsed = parseSFrameHeader(unhex(v.encoded));
    assert.equal(parsed.kid, kid, label);
    assert.equal(parsed.ctr, ctr, label);
    assert.equal(parsed.headerLength, v.encoded.length / 2, label);
    // The header is followed by ciphertext in a frame: trailing bytes do not change it.
    const inFrame = parseSFrameHeader(unhex(`${v.encoded}ffeeddcc`));
    assert.deepEqual(inFrame, parsed, label);
    reproduced.header += 1;
  }
});

test('every AES-CTR + HMAC vector (suites 1-3): key split, encryption to ct || tag, and decryption back', async () => {
  for (const v of vectors.aes_ctr_hmac) {
    const suite = cipherSuite(v.cipher_suite);
    const key = unhex(v.key);
    assert.equal(hex(key.subarray(0, CTR_HMAC_ENC_KEY_LENGTH)), v.enc_key);
    assert.equal(hex(key.subarray(CTR_HMAC_ENC_KEY_LENGTH)), v.auth_key);
    const aead = await importAeadKey(suite, key);
    const sealed = await aeadSeal(aead, unhex(v.nonce), unhex(v.aad), unhex(v.pt));
    assert.equal(hex(sealed), v.ct, `suite ${v.cipher_suite}`);
    assert.equal(sealed.length - unhex(v.pt).length, suite.nt);
    assert.equal(hex(await aeadOpen(aead, unhex(v.nonce), unhex(v.aad), unhex(v.ct))), v.pt);
    reproduced.aes_ctr_hmac += 1;
  }
});

test('every full SFrame vector (suites 1-5): labels, secret, key, salt, nonce, AAD, ciphertext, and decryption', async () => {
  for (const v of vectors.sframe) {
    const suite = cipherSuite(v.cipher_suite);
    const kid = BigInt(v.kid);
    const ctr = BigInt(v.ctr);
    const label = `suite ${v.cipher_suite}`;
    assert.equal(hex(sframeKeyLabel(suite, kid)), v.sframe_key_label, label);
    assert.equal(hex(sframeSaltLabel(suite, kid)), v.sframe_salt_label, label);
    const material = await deriveKeyMaterial(suite, kid, unhex(v.base_key));
    assert.equal(hex(material.secret), v.sframe_secret, label);
    assert.equal(hex(material.key), v.sframe_key, label);
    assert.equal(hex(material.salt), v.sframe_salt, label);
    assert.equal(hex(sframeNonce(material.salt, ctr)), v.nonce, label);
    const header = encodeSFrameHeader(kid, ctr);
    assert.equal(hex(header) + v.metadata, v.aad, label);
    assert.ok(v.ct.startsWith(hex(header)), label);

    const key = await deriveSFrameKey(v.cipher_suite, kid, unhex(v.base_key));
    assert.equal(key.kid, kid);
    assert.equal(key.suite, v.cipher_suite);
    const frame = await sframeEncrypt(key, ctr, unhex(v.metadata), unhex(v.pt));
    assert.equal(hex(frame), v.ct, label);
    const opened = await sframeDecrypt((k) => (k === kid ? key : undefined), unhex(v.metadata), unhex(v.ct));
    assert.equal(opened.kid, kid);
    assert.equal(opened.ctr, ctr);
    assert.equal(hex(opened.plaintext), v.pt, label);
    reproduced.sframe += 1;
  }
});

/** A dedicated worker (where the call's media crypto runs) that reproduces the full SFrame vectors with Chromium's WebCrypto. */
const BROWSER_WORKER = `
import { deriveSFrameKey, sframeDecrypt, sframeEncrypt } from './shared/sframe/index';
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (t) => Uint8Array.from(t.match(/../g) ?? [], (p) => parseInt(p, 16));
self.onmessage = async (event) => {
  const results = [];
  for (const v of event.data) {
    try {
      const kid = BigInt(v.kid);
      const ctr = BigInt(v.ctr);
      const key = await deriveSFrameKey(v.cipher_suite, kid, unhex(v.base_key));
      const frame = await sframeEncrypt(key, ctr, unhex(v.metadata), unhex(v.pt));
      const opened = await sframeDecrypt((k) => (k === kid ? key : undefined), unhex(v.metadata), unhex(v.ct));
      results.push({ suite: v.cipher_suite, ct: hex(frame), pt: hex(opened.plaintext), kid: String(opened.kid), ctr: String(opened.ctr) });
    } catch (error) {
      results.push({ suite: v.cipher_suite, error: String(error) });
    }
  }
  self.postMessage(results);
};`;

test('the five full SFrame vectors also reproduce in a Chromium dedicated worker (the media worker\'s WebCrypto)', async () => {
  const script = buildSync({
    stdin: { contents: BROWSER_WORKER, resolveDir: fileURLToPath(new URL('..', import.meta.url)), loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
  }).outputFiles[0]!.text;
  const server = createServer((req, res) => {
    if (req.url === '/worker.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>SFrame vectors</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: mediaChromiumArgs(), headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`http://localhost:${(server.address() as { port: number }).port}/`);
    const results = (await page.evaluate(
      (vs) =>
        new Promise((resolve, reject) => {
          const worker = new Worker('/worker.js');
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => reject(new Error(event.message));
          worker.postMessage(vs);
        }),
      vectors.sframe,
    )) as Array<{ suite: number; ct?: string; pt?: string; kid?: string; ctr?: string; error?: string }>;
    assert.deepEqual(
      results,
      vectors.sframe.map((v) => ({ suite: v.cipher_suite, ct: v.ct, pt: v.pt, kid: v.kid, ctr: v.ctr })),
    );
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('all 297 vectors were reproduced', () => {
  assert.deepEqual(reproduced, { header: 289, aes_ctr_hmac: 3, sframe: 5 });
  assert.equal(reproduced.header + reproduced.aes_ctr_hmac + reproduced.sframe, 297);
});
