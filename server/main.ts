/**
 * The reference backend's command line.
 *   npm run server [-- --port 8787 --data-dir DIR --bundles PATH... --rp-id localhost --origin URL...]
 *                  [--rate-limit-sign-in N --rate-limit-enroll N --rate-limit-device N --rate-limit-upload N --rate-limit-ip N]  (per minute)
 *   npm run server -- add-clinician <id> --name "Display Name" [--assign-all]
 *   npm run server -- assign | unassign <clinician> <patient>...
 *   npm run server -- enroll-code <clinician>     (prints a one-time code, valid 15 minutes)
 *   npm run server -- revoke-device <device-id> | revoke-passkey <credential-id> | revoke-clinician <id> | set-policy <key> <json>
 *   npm run server -- grant-role | revoke-role <clinician> privacy-officer
 *   npm run server -- monitor-run [--full]   (runs the unusual-access rules now; prints the flags raised per rule)
 *   npm run server -- set-monitor-policy <key> <json> | set-staff-details <clinician> [--surname S] [--address-file F.json]
 *   npm run server -- set-patient-flag <patient> vip|staff [--off] | import-rota <file.csv>   (clinician,shift|on-call,startISO,endISO)
 *   npm run server -- audit-verify     (exit 0 when the backend's own audit chain and every device's uploaded chain are whole; else names the first bad entry)
 *   npm run server -- receipt-key-generate <file>   (a new receipt-signing key, mode 0600; give the same file to every instance)
 * Consultations (serve): [--public-url URL] [--janus-url URL --janus-secret-file PATH [--janus-record-dir DIR]] [--turn-url URL... --turn-secret-file PATH] [--invite-ttl-seconds N]
 * Serving needs the receipt-signing key from configuration: --receipt-key-file
 * or CLINICIAN_RECEIPT_KEY_FILE (no default; the backend refuses to start).
 * SQLite in --data-dir by default; PostgreSQL when DATABASE_URL is set. Plain
 * http only on loopback; any other address needs --tls-cert and --tls-key.
 * There is no default account: every clinician enrolls with a one-time code.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clinicianIdSchema } from '../shared/backend-api';
import { buildApp } from './app';
import { systemClock } from './clock';
import { migrate, openDatabase } from './database';
import { addClinician, createEnrollmentCode, formatEnrollmentCode, readPolicy, revokeClinician, revokeCredential, revokeDevice, setPolicy } from './organisation/organisation';
import { assignPatients, unassignPatients } from './organisation/assignments';
import { grantRole, revokeRole, roleSchema } from './authorization/roles';
import { bundleFiles, loadBundles } from './sync/patient-store';
import { RelyingParty } from './auth/relying-party';
import { generateReceiptKeyFile, loadReceiptKey } from './receipt-key';
import { verifyDisclosureChain } from './audit/disclosure-verify';
import { verifyAllDeviceChains } from './audit/device-chain-verify';
import { janusMediaServer } from './signaling/media-server';
import { TURN_TTL_SECONDS_DEFAULT, type ConsultOptions } from './signaling/consult-routes';
import { runMonitor } from './privacy/monitor-runner';
import { startMonitorTimer } from './privacy/monitor-timer';
import { setMonitorPolicy } from './privacy/monitor-policy';
import { setPatientMarker, setStaffDetails } from './privacy/staff-directory';
import { addRota, readRotaCsv } from './privacy/rota';
import type { AddressLike } from './privacy/normalise';
import { fhirIdSchema } from '../shared/fhir-id';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string', default: '.backend-data' },
      bundles: { type: 'string', multiple: true },
      'rp-id': { type: 'string', default: 'localhost' },
      'rp-name': { type: 'string', default: 'Clinician Desktop' },
      origin: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      name: { type: 'string' },
      'assign-all': { type: 'boolean' },
      'rate-limit-sign-in': { type: 'string' },
      'rate-limit-enroll': { type: 'string' },
      'rate-limit-device': { type: 'string' },
      'rate-limit-ip': { type: 'string' },
      'rate-limit-upload': { type: 'string' },
      'receipt-key-file': { type: 'string' },
      'public-url': { type: 'string' },
      'janus-url': { type: 'string' },
      'janus-record-dir': { type: 'string' },
      'janus-secret-file': { type: 'string' },
      'turn-url': { type: 'string', multiple: true },
      'turn-secret-file': { type: 'string' },
      'invite-ttl-seconds': { type: 'string' },
      full: { type: 'boolean' },
      surname: { type: 'string' },
      'address-file': { type: 'string' },
      off: { type: 'boolean' },
    },
  });
  const [command = 'serve', ...args] = positionals;
  if (command === 'receipt-key-generate') {
    if (!args[0]) throw new Error('receipt-key-generate needs the file to write');
    generateReceiptKeyFile(resolve(args[0]));
    process.stdout.write(`receipt-signing key written (mode 0600); give this file to every backend instance with --receipt-key-file\n`);
    return;
  }
  // Before the database: a backend without its key stops at once, with the reason.
  const receiptKey = command === 'serve' ? loadReceiptKey(values['receipt-key-file']) : null;
  const { db, engine } = openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: resolve(values['data-dir']) });
  await migrate(db);

  if (command === 'serve') {
    const defaultBundles = resolve('..', 'shared', 'fixtures', 'synthea');
    const paths = values.bundles ?? (existsSync(defaultBundles) ? [defaultBundles] : []);
    const loaded = await loadBundles(db, bundleFiles(paths));
    const tls = values['tls-cert'] && values['tls-key'] ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) } : undefined;
    if (!tls && !LOOPBACK.has(values.host)) throw new Error('plain http is only served on loopback: give --tls-cert and --tls-key');
    const origins = values.origin ?? [`http://localhost:${values.port}`];
    const rp = new RelyingParty(db, { rpId: values['rp-id'], rpName: values['rp-name'], origins }, systemClock);
    const perMinute = (flag: string | undefined, name: string) => {
      if (flag === undefined) return undefined;
      const n = Number(flag);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of requests per minute, at least 1`);
      return n;
    };
    const rateLimits = Object.fromEntries(
      Object.entries({
        signInPerClinician: perMinute(values['rate-limit-sign-in'], 'rate-limit-sign-in'),
        enrollPerClinician: perMinute(values['rate-limit-enroll'], 'rate-limit-enroll'),
        devicePerDevice: perMinute(values['rate-limit-device'], 'rate-limit-device'),
        uploadsPerDevice: perMinute(values['rate-limit-upload'], 'rate-limit-upload'),
        perIp: perMinute(values['rate-limit-ip'], 'rate-limit-ip'),
      }).filter(([, v]) => v !== undefined),
    );
    const consult = consultOptions(values, tls ? 'https' : 'http');
    const app = buildApp({ db, rp, clock: systemClock, receiptKey: receiptKey!, rateLimits, consult, ...(tls ? { https: tls } : {}) });
    // The unusual-access rules run every policy monitor.runEveryMinutes inside serve (server/privacy/monitor-timer.ts).
    const monitor = startMonitorTimer(db, systemClock);
    const close = async () => {
      monitor.stop();
      await app.close();
      await db.destroy();
      process.exit(0);
    };
    process.on('SIGTERM', () => void close());
    process.on('SIGINT', () => void close());
    const address = await app.listen({ port: Number(values.port), host: values.host });
    process.stdout.write(`backend listening on ${address} (${engine}, ${loaded.length} patients loaded)\n`);
    return;
  }

  try {
    switch (command) {
      case 'add-clinician': {
        const id = clinicianIdSchema.parse(args[0]);
        await addClinician(db, id, values.name ?? id, systemClock);
        if (values['assign-all']) {
          const patients = await db.selectFrom('resources').select(['id']).where('resource_type', '=', 'Patient').execute();
          await assignPatients(db, id, patients.map((p) => p.id));
        }
        process.stdout.write(`clinician ${id} ready\n`);
        break;
      }
      case 'assign':
        await assignPatients(db, clinicianIdSchema.parse(args[0]), args.slice(1));
        break;
      case 'unassign':
        await unassignPatients(db, clinicianIdSchema.parse(args[0]), args.slice(1));
        break;
      case 'enroll-code':
        process.stdout.write(`${formatEnrollmentCode(await createEnrollmentCode(db, clinicianIdSchema.parse(args[0]), systemClock))}\n`);
        break;
      case 'revoke-device':
        process.stdout.write(`${(await revokeDevice(db, String(args[0]), systemClock)) ? 'revoked' : 'no such active device'}\n`);
        break;
      case 'revoke-passkey':
        process.stdout.write(`${(await revokeCredential(db, String(args[0]), systemClock)) ? 'revoked' : 'no such active passkey'}\n`);
        break;
      case 'revoke-clinician':
        await revokeClinician(db, clinicianIdSchema.parse(args[0]), systemClock);
        break;
      case 'grant-role':
        process.stdout.write(`${(await grantRole(db, clinicianIdSchema.parse(args[0]), roleSchema.parse(args[1]))) ? 'granted' : 'already held'}\n`);
        break;
      case 'revoke-role':
        process.stdout.write(`${(await revokeRole(db, clinicianIdSchema.parse(args[0]), roleSchema.parse(args[1]))) ? 'revoked' : 'not held'}\n`);
        break;
      case 'set-policy':
        await setPolicy(db, args[0] as never, JSON.parse(String(args[1])));
        process.stdout.write(`${JSON.stringify(await readPolicy(db))}\n`);
        break;
      case 'monitor-run': {
        const r = await runMonitor(db, { clock: systemClock, full: Boolean(values.full) });
        process.stdout.write(`${r.ingested} audit entries read; ${r.raised} new flags in ${r.ms} ms\n`);
        for (const [rule, n] of Object.entries(r.found)) process.stdout.write(`  ${rule}: ${n} found\n`);
        break;
      }
      case 'set-monitor-policy':
        process.stdout.write(`${JSON.stringify(await setMonitorPolicy(db, String(args[0]), JSON.parse(String(args[1]))))}\n`);
        break;
      case 'set-staff-details': {
        const address = values['address-file'] ? (JSON.parse(readFileSync(values['address-file'], 'utf8')) as AddressLike) : undefined;
        await setStaffDetails(db, clinicianIdSchema.parse(args[0]), { surname: values.surname, address });
        process.stdout.write('staff details set\n');
        break;
      }
      case 'set-patient-flag': {
        const marker = args[1];
        if (marker !== 'vip' && marker !== 'staff') throw new Error('set-patient-flag needs vip or staff');
        await setPatientMarker(db, fhirIdSchema.parse(args[0]), marker, !values.off, systemClock);
        process.stdout.write(`${values.off ? 'unflagged' : 'flagged'}\n`);
        break;
      }
      case 'import-rota': {
        const entries = readRotaCsv(String(args[0]));
        await addRota(db, entries);
        process.stdout.write(`${entries.length} rostered periods imported\n`);
        break;
      }
      case 'audit-verify': {
        const report = await verifyDisclosureChain(db);
        if (report.ok) process.stdout.write(`server audit chain whole: ${report.entries} entries\n`);
        else {
          process.stdout.write(`server audit chain broken at entry ${report.firstBad!.seq}: ${report.firstBad!.problem}\n`);
          process.exitCode = 2;
        }
        // Each device's uploaded chain too (a rollback entry is an ordinary link in it).
        const devices = await verifyAllDeviceChains(db);
        for (const { deviceId, firstBad } of devices.broken) process.stdout.write(`device ${deviceId} audit chain broken at entry ${firstBad.seq}: ${firstBad.problem}\n`);
        if (devices.broken.length > 0) process.exitCode = 2;
        else process.stdout.write(`device audit chains whole: ${devices.devices} devices\n`);
        break;
      }
      default:
        throw new Error(`unknown command "${command.slice(0, 30)}"`);
    }
  } finally {
    await db.destroy();
  }
}

/**
 * The consultation settings from the command line: join links on --public-url (default: this
 * server's own address), Janus at --janus-url, TURN at --turn-url with the shared secret read
 * from --turn-secret-file (mode 0600 or stricter; there is no default secret), join links valid
 * --invite-ttl-seconds (at most the default). Bad values stop the server with the reason.
 */
function consultOptions(values: Record<string, string | boolean | string[] | undefined>, scheme: 'http' | 'https'): ConsultOptions {
  const text = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  const publicUrl = text('public-url') ?? `${scheme}://${text('host') === '::1' ? '[::1]' : text('host')}:${text('port')}`;
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(publicUrl)) throw new Error('--public-url must be an http(s) address without query or fragment');
  const janusUrl = text('janus-url');
  if (text('janus-record-dir') && !janusUrl) throw new Error('--janus-record-dir needs --janus-url');
  // Janus's API secret, from a file readable by its owner only (never on the command line); required with --janus-url.
  const janusSecretFile = text('janus-secret-file');
  if (janusUrl && !janusSecretFile) throw new Error('--janus-url needs --janus-secret-file (the Janus API secret, set as api_secret in janus.jcfg; the backend never talks to Janus without it)');
  if (janusSecretFile && !janusUrl) throw new Error('--janus-secret-file needs --janus-url');
  if (janusSecretFile && (statSync(janusSecretFile).mode & 0o077) !== 0) throw new Error('--janus-secret-file must be readable by its owner only (chmod 600)');
  const janusSecret = janusSecretFile ? readFileSync(janusSecretFile, 'utf8').trim() : undefined;
  if (janusSecretFile && !janusSecret) throw new Error('the Janus API secret file is empty');
  const turnUrls = (values['turn-url'] as string[] | undefined) ?? [];
  const secretFile = text('turn-secret-file');
  if (turnUrls.length > 0 !== Boolean(secretFile)) throw new Error('--turn-url and --turn-secret-file go together');
  let turn: ConsultOptions['turn'] = null;
  if (secretFile) {
    if ((statSync(secretFile).mode & 0o077) !== 0) throw new Error('--turn-secret-file must be readable by its owner only (chmod 600)');
    const secret = readFileSync(secretFile, 'utf8').trim();
    if (secret.length < 16) throw new Error('the TURN secret is too short (at least 16 characters)');
    turn = { urls: turnUrls, secret, ttlSeconds: TURN_TTL_SECONDS_DEFAULT };
  }
  const ttlText = text('invite-ttl-seconds');
  const inviteTtlSeconds = ttlText === undefined ? undefined : Number(ttlText);
  return {
    publicUrl,
    mediaServer: janusUrl ? janusMediaServer({ url: janusUrl, ...(janusSecret ? { apiSecret: janusSecret } : {}), ...(text('janus-record-dir') ? { recordDir: resolve(text('janus-record-dir')!) } : {}) }) : null,
    turn,
    inviteTtlSeconds,
    databaseUrl: process.env.DATABASE_URL,
  };
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : 'failed'}\n`);
  process.exit(1);
});
