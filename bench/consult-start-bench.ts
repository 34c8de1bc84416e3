/**
 * The consultation's "time to first decrypted frame", measured with the
 * PRODUCT: the desktop renderer (the real chart, StartConsultation, the
 * ConsultPanel and call engine with the real media worker, through the
 * browser harness and main's signaling client) of an enrolled clinician, the
 * real backend process wired to Janus and coturn (test/support/media-stack.ts,
 * in the test network namespace), and the patient on the backend's own join
 * page, both in Chromium with fake camera and microphone.
 *
 * One run: the clinician presses "Start" in the "Start a video consultation"
 * dialog (t0, stamped in the page by a capture-phase click listener, i.e. the
 * moment the action that calls consult.start is invoked), the call comes up,
 * the host invites the patient (link), the patient's page opens the link and
 * presses "Join the call", and the run ends at the first video frame the
 * patient's page decoded (getStats inbound-rtp framesDecoded > 0, polled in the
 * page every 20 ms; only frames the media worker decrypted reach the decoder).
 * The scripted steps in between (invite, open the link, join) take machine
 * time only, no human think time; each step's time stamp is reported so the
 * parts can be told apart. Then the host ends the call for everyone and the
 * next run starts from the same chart.
 *
 * Must run inside test/support/test-network.sh with the private keyring (the
 * bench does). Never logs a link, a token or a key.
 */
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { enrolledDesktop } from '../test/browser/enrolled-desktop';
import { launchMediaChromium } from '../test/support/media-browser';
import { startMediaStack } from '../test/support/media-stack';
import { scratchDir } from '../test/support/scratch';
import { testKeychain } from '../test/support/test-keychain';
import { stats } from './bench-stats';

const ROOT = resolve(process.env.CLINICIAN_TEST_ROOT ?? process.cwd());
const CRITICAL_FILE = join(ROOT, 'test', 'fixtures', 'critical-patient.json');
const PATIENT_NAME = 'Marguerite Vantongeren';

/** Milliseconds after t0 ("Start" pressed) of each step of one run. */
export interface StartRun {
  hostInCallMs: number;
  linkIssuedMs: number;
  patientJoinClickMs: number;
  patientInCallMs: number;
  /** The headline: the first video frame decoded (so decrypted) at the patient's join page. */
  firstDecryptedFrameAtPatientMs: number;
}

/**
 * The desktop page: stamps the click on "Start" (consult-start-confirm) and the call panel reaching 'in-call'.
 * A string: it runs in the page as is.
 */
const DESKTOP_STAMPS = `(() => {
  window.__bench = { start: null, inCall: null };
  document.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('[data-testid="consult-start-confirm"]')) window.__bench = { start: Date.now(), inCall: null };
  }, true);
  const observer = new MutationObserver(() => {
    const b = window.__bench;
    if (b.start !== null && b.inCall === null && document.querySelector('[data-testid="consult-call"][data-phase="in-call"]')) b.inCall = Date.now();
  });
  observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
})()`;

/**
 * The patient's page, from its first script: keeps its RTCPeerConnections, stamps the click on "Join the call",
 * the call reaching 'in-call', and the first decoded inbound video frame (getStats every 20 ms).
 */
const PATIENT_STAMPS = `(() => {
  window.__bench = { join: null, inCall: null, firstFrame: null };
  const pcs = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); pcs.push(this); }
  };
  document.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('[data-testid="join-start"]') && window.__bench.join === null) window.__bench.join = Date.now();
  }, true);
  new MutationObserver(() => {
    const b = window.__bench;
    if (b.inCall === null && document.querySelector('[data-testid="consult-call"][data-phase="in-call"]')) b.inCall = Date.now();
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
  const poll = async () => {
    const b = window.__bench;
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      let decoded = 0;
      report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') decoded += s.framesDecoded || 0; });
      if (decoded > 0) { b.firstFrame = Date.now(); return; }
    }
    setTimeout(poll, 20);
  };
  poll();
})()`;

interface Stamps {
  start: number | null;
  inCall: number | null;
}
interface PatientStamps {
  join: number | null;
  inCall: number | null;
  firstFrame: number | null;
}

/** Runs `runs` consultations one after another on one enrolled desktop; the p50/p95 of each step, and every run. */
export async function measureStartToFirstFrame(runs: number): Promise<unknown> {
  const keychain = testKeychain();
  const dir = scratchDir('consult-start-bench');
  const stack = await startMediaStack();
  let patientContext: BrowserContext | null = null;
  const desktop = await enrolledDesktop(dir.path, keychain, {
    backendFlags: [
      '--bundles', CRITICAL_FILE,
      '--janus-url', stack.janusUrl,
      '--janus-secret-file', stack.janusSecretFile,
      ...stack.turnUrls.flatMap((u) => ['--turn-url', u]),
      '--turn-secret-file', stack.turnSecretFile,
    ],
    launch: () => launchMediaChromium(),
  }).catch(async (error: unknown) => {
    await stack.stop();
    dir.remove();
    throw error;
  });
  const results: StartRun[] = [];
  try {
    const page = desktop.page;
    page.setDefaultTimeout(90_000);
    patientContext = await desktop.browser.newContext({ viewport: { width: 1000, height: 760 } });
    patientContext.setDefaultTimeout(90_000);
    await patientContext.addInitScript(PATIENT_STAMPS);
    await page.getByTestId('worklist-row').filter({ hasText: PATIENT_NAME }).locator('.open-button').click();
    await page.getByTestId('chart').waitFor();
    await page.evaluate(DESKTOP_STAMPS);
    for (let i = 0; i < runs; i++) results.push(await oneRun(page, patientContext));
  } finally {
    await patientContext?.close().catch(() => undefined);
    await desktop.close();
    await stack.stop();
    dir.remove();
    await keychain.cleanup();
  }
  const of = (k: keyof StartRun) => stats(results.map((r) => r[k]));
  return {
    what: 'the product: desktop renderer (chart "Start consultation" dialog, ConsultPanel, call engine, real media worker) -> backend signaling -> Janus (+coturn) -> the patient on the backend join page; t0 = click on "Start"; end = first video frame decoded (framesDecoded > 0, so decrypted by the worker) at the patient; invite, link and join are scripted (no human think time)',
    runs: results.length,
    start_to_first_decrypted_frame_at_patient: of('firstDecryptedFrameAtPatientMs'),
    steps_after_start: {
      host_in_call: of('hostInCallMs'),
      invite_link_issued: of('linkIssuedMs'),
      patient_join_clicked: of('patientJoinClickMs'),
      patient_in_call: of('patientInCallMs'),
    },
    patient_join_click_to_first_decrypted_frame: stats(results.map((r) => r.firstDecryptedFrameAtPatientMs - r.patientJoinClickMs)),
    runs_ms: results,
  };
}

async function oneRun(page: Page, patientContext: BrowserContext): Promise<StartRun> {
  await page.getByTestId('consult-start').click();
  await page.getByTestId('consult-start-confirm').click();
  await page.locator('[data-testid=consult-call][data-phase="in-call"]').waitFor();
  await page.getByTestId('consult-invite').click();
  await page.getByTestId('consult-invite-patient').check();
  await page.getByTestId('consult-invite-submit').click();
  const link = await page.getByTestId('consult-invite-link').inputValue();
  const linkIssued = Date.now();
  await page.getByTestId('consult-invite-dialog').getByRole('button', { name: 'Done' }).click();

  const patient = await patientContext.newPage();
  try {
    await patient.goto(link);
    await patient.getByTestId('join-start').click();
    await patient.waitForFunction(() => (window as unknown as { __bench: PatientStamps }).__bench.firstFrame !== null, undefined, { polling: 50 });
    const host = (await page.evaluate('window.__bench')) as Stamps;
    const pat = (await patient.evaluate('window.__bench')) as PatientStamps;
    if (host.start === null || host.inCall === null || pat.join === null || pat.inCall === null || pat.firstFrame === null) {
      throw new Error(`consult start bench: a step was not stamped (${JSON.stringify({ host, pat })})`);
    }
    const t0 = host.start;
    return {
      hostInCallMs: host.inCall - t0,
      linkIssuedMs: linkIssued - t0,
      patientJoinClickMs: pat.join - t0,
      patientInCallMs: pat.inCall - t0,
      firstDecryptedFrameAtPatientMs: pat.firstFrame - t0,
    };
  } finally {
    await page.getByTestId('consult-hang-up').click();
    await page.getByTestId('consult-end-for-everyone').click();
    await page.locator('[data-testid=consult-call][data-phase="ended"]').waitFor();
    await page.getByTestId('consult-close').click();
    await patient.close();
  }
}
