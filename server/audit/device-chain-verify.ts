/**
 * Checks one device's uploaded audit chain as the backend holds it: every
 * entry from seq 1 without a gap, each linked to the one before (prev_hash),
 * each hash recomputed from its canonical text, whose own seq and device are
 * the row's. A rollback entry is an ordinary link here: it follows the
 * backend's last accepted entry like any other. Answers the first bad entry
 * by seq only; never prints an entry, a patient id or a query.
 */
import { createHash } from 'node:crypto';
import { AUDIT_GENESIS_HASH, canonicalAuditSeq, parseCanonicalAuditEntry } from '../../shared/audit-entry';
import type { Db } from '../database';

export type DeviceChainProblem = 'missing' | 'broken-link' | 'hash-mismatch' | 'entry-mismatch';

export interface DeviceChainReport {
  ok: boolean;
  entries: number;
  firstBad?: { seq: number; problem: DeviceChainProblem };
}

const BATCH = 5000;

export async function verifyDeviceChain(db: Db, deviceId: string): Promise<DeviceChainReport> {
  let expected = 1;
  let prevHash = AUDIT_GENESIS_HASH;
  const bad = (seq: number, problem: DeviceChainProblem): DeviceChainReport => ({ ok: false, entries: expected - 1, firstBad: { seq, problem } });
  for (;;) {
    const rows = await db
      .selectFrom('audit_entries')
      .select(['seq', 'entry', 'prev_hash', 'hash'])
      .where('device_id', '=', deviceId)
      .where('seq', '>=', expected)
      .orderBy('seq')
      .limit(BATCH)
      .execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expected) return bad(expected, 'missing');
      if (row.prev_hash !== prevHash) return bad(seq, 'broken-link');
      if (createHash('sha256').update(`${prevHash}\n${row.entry}`).digest('hex') !== row.hash) return bad(seq, 'hash-mismatch');
      if (canonicalAuditSeq(row.entry) !== seq || parseCanonicalAuditEntry(row.entry)?.deviceId !== deviceId) return bad(seq, 'entry-mismatch');
      prevHash = row.hash;
      expected++;
    }
    if (rows.length < BATCH) break;
  }
  const before = await db.selectFrom('audit_entries').select('seq').where('device_id', '=', deviceId).where('seq', '<', 1).limit(1).executeTakeFirst();
  if (before) return bad(Number(before.seq), 'missing');
  return { ok: true, entries: expected - 1 };
}

/** Every device chain the backend holds: how many there are, and the first bad entry of each one that is broken. */
export async function verifyAllDeviceChains(db: Db): Promise<{ devices: number; broken: Array<{ deviceId: string; firstBad: NonNullable<DeviceChainReport['firstBad']> }> }> {
  const devices = await db.selectFrom('audit_entries').select('device_id').distinct().orderBy('device_id').execute();
  const broken = [];
  for (const { device_id } of devices) {
    const report = await verifyDeviceChain(db, device_id);
    if (!report.ok) broken.push({ deviceId: device_id, firstBad: report.firstBad! });
  }
  return { devices: devices.length, broken };
}
