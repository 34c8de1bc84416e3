/**
 * Checks the backend's own disclosure chain end to end: every row in seq
 * order from 1 without a gap, each linking to the one before (prev_hash),
 * each hash recomputed from its canonical entry, the entry's own seq, time
 * and patient matching the row's columns and its AuditEvent, and the last
 * row equal to the head row (so a cut-off tail shows). Answers the first bad
 * entry by seq only: never prints an entry, a patient id or a query.
 */
import { AUDIT_GENESIS_HASH } from '../../shared/audit-entry';
import type { Db } from '../database';
import { BACKEND_NAME, linkHash } from './disclosure-ledger';

export type ChainProblem = 'missing' | 'unexpected' | 'broken-link' | 'hash-mismatch' | 'entry-mismatch' | 'event-mismatch' | 'truncated';

export interface ChainReport {
  ok: boolean;
  entries: number;
  firstBad?: { seq: number; problem: ChainProblem };
}

const BATCH = 5000;

function eventMatches(eventText: string, fields: unknown[], seq: number, hash: string): boolean {
  let event: {
    id?: unknown;
    action?: unknown;
    recorded?: unknown;
    outcome?: unknown;
    agent?: Array<{ who?: { identifier?: { value?: unknown } } }>;
    entity?: Array<{ what?: { reference?: unknown }; role?: { code?: unknown } }>;
    extension?: Array<{ url?: unknown; valueString?: unknown }>;
  };
  try {
    event = JSON.parse(eventText) as typeof event;
  } catch {
    return false;
  }
  const [, , recordedAt, actor, action, , patientId] = fields;
  const patientRef = event.entity?.find((e) => e.role?.code === '1')?.what?.reference ?? null;
  return (
    event.id === `${BACKEND_NAME}-${seq}` &&
    event.action === action &&
    event.recorded === recordedAt &&
    event.outcome === fields[9] &&
    event.agent?.[0]?.who?.identifier?.value === actor &&
    patientRef === (patientId === null ? null : `Patient/${String(patientId)}`) &&
    event.extension?.find((x) => x.url === 'urn:clinician-desktop:audit-chain-hash')?.valueString === hash
  );
}

export async function verifyDisclosureChain(db: Db): Promise<ChainReport> {
  const head = await db.selectFrom('disclosure_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  const headSeq = Number(head?.seq ?? 0);
  let expected = 1;
  let prevHash = AUDIT_GENESIS_HASH;
  const bad = (seq: number, problem: ChainProblem): ChainReport => ({ ok: false, entries: expected - 1, firstBad: { seq, problem } });
  const beforeFirst = await db.selectFrom('disclosure_events').select('seq').where('seq', '<', 1).limit(1).executeTakeFirst();
  if (beforeFirst) return bad(Number(beforeFirst.seq), 'unexpected');
  for (;;) {
    const rows = await db.selectFrom('disclosure_events').selectAll().where('seq', '>=', expected).orderBy('seq').limit(BATCH).execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq > headSeq) return bad(seq, 'unexpected');
      if (seq !== expected) return bad(expected, 'missing');
      if (row.prev_hash !== prevHash) return bad(seq, 'broken-link');
      if (linkHash(prevHash, row.entry) !== row.hash) return bad(seq, 'hash-mismatch');
      let fields: unknown[];
      try {
        fields = JSON.parse(row.entry) as unknown[];
      } catch {
        return bad(seq, 'entry-mismatch');
      }
      if (!Array.isArray(fields) || fields[1] !== seq || fields[2] !== row.recorded_at || (fields[6] ?? null) !== row.patient_id) return bad(seq, 'entry-mismatch');
      if (!eventMatches(row.event, fields, seq, row.hash)) return bad(seq, 'event-mismatch');
      prevHash = row.hash;
      expected++;
    }
    if (rows.length < BATCH) break;
  }
  if (expected - 1 !== headSeq || prevHash !== head?.hash) return bad(expected, 'truncated');
  return { ok: true, entries: headSeq };
}
