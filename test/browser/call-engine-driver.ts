/**
 * Drives the call-engine test page (call-engine-page.ts) from a test: start
 * a call, read the engine's latest CallState and its stats, and wait for a
 * state (checked in the page on every animation frame) or for media
 * counters (read from the real getStats and the worker's counters).
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';

export interface StateSummary {
  phase: string;
  encryption: string;
  code: string | null;
  error: { code: string; message: string } | null;
  participants: Array<{ participantId: string; self: boolean; verifiedDevice: boolean; decrypting: boolean; codeConfirmed: boolean; stream: string[] | null }>;
}

export interface EngineStats {
  worker: { sentFrames: number; decryptedFrames: number; droppedAuth: number; droppedNoKey: number; unsentNoKey: number; perSender: Array<{ participantId: string; decryptedFrames: number }> } | null;
  inbound: Array<{ participantId: string; framesDecoded: number; audioSamplesDecoded: number; videoPacketsReceived: number; audioPacketsReceived: number }>;
  outbound: { videoFramesEncoded: number; audioPacketsSent: number; videoPacketsSent: number };
}

export async function openCallPage(browser: Browser, origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(origin);
  await page.waitForFunction(() => '__call' in globalThis);
  return page;
}

export function latest(page: Page): Promise<StateSummary | null> {
  return page.evaluate('window.__call.latest()') as Promise<StateSummary | null>;
}

export function engineStats(page: Page): Promise<EngineStats> {
  return page.evaluate('window.__call.handle.stats()') as Promise<EngineStats>;
}

export function startOnPage(page: Page, callId: string, token: string, url?: string): Promise<void> {
  return page.evaluate(`window.__call.start(${JSON.stringify(callId)}, ${JSON.stringify(token)}, ${url === undefined ? 'undefined' : JSON.stringify(url)})`) as Promise<void>;
}

/** Resolves once the page's engine reports a state matching the predicate (a JS expression over `s`). */
export async function untilState(page: Page, predicate: string, timeout = 30_000): Promise<StateSummary> {
  await page.waitForFunction(`(() => { const s = window.__call.latest(); return !!s && (${predicate}); })()`, undefined, { timeout });
  return (await latest(page))!;
}

/** Reads the real counters until the condition holds; media arrives on its own clock, so this polls with a deadline. */
export async function untilStats(page: Page, condition: (s: EngineStats) => boolean, timeoutMs = 30_000): Promise<EngineStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await engineStats(page);
    if (condition(s)) return s;
    if (Date.now() > deadline) assert.fail(`the call's counters never met the condition: ${JSON.stringify(s)}`);
    await page.waitForTimeout(200);
  }
}

/** One remote participant's video frames and audio samples were decoded. */
export const decodesVideoAndAudio = (s: EngineStats) => s.inbound.length >= 1 && s.inbound.every((i) => i.framesDecoded > 0 && i.audioSamplesDecoded > 0);
