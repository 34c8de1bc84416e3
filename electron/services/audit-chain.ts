/**
 * The tamper-evident audit log: entries appended inside the caller's SQLite
 * transaction (so an access and its entry commit or roll back together), each
 * chained by SHA-256 to the one before, and the chain head signed with the
 * device's Ed25519 key. `verifyAuditChain` recomputes everything and names
 * the first bad entry. This module holds no head state in memory (the
 * database is the truth, even after a rollback) and never logs entry content.
 * After a rollback of the cache (./rollback-guard), `continueAfterRollback`
 * moves the entries the backend never saw behind a rollback entry that
 * follows the backend's last accepted one: their content is kept, only their
 * seq and hashes change; the gap it leaves (entries only the backend still
 * holds) is bridged by that entry, which names the last entry both share.
 * Each time the head is looked at after a commit (`signHead`), a listener
 * (./rollback-guard) is told the committed head, so it can be kept outside
 * the folder; it is never told a head inside an open transaction.
 */
import { hash, sign, verify, type KeyObject } from 'node:crypto';
import {
  AUDIT_GENESIS_HASH,
  ROLLBACK_SUBTYPE,
  auditHeadMessage,
  canonicalAuditEntry,
  canonicalAuditSeq,
  parseCanonicalAuditEntry,
  rollbackEntities,
  rollbackFacts,
  type AuditNetwork,
  type AuditAction,
  type AuditEntry,
  type AuditOutcome,
  type AuditSubtype,
} from '../../shared/audit-entry';
import type { CacheDatabase } from './cache-database';

/** References per entry: 200 references stay far below the 64 KiB an uploaded entry may have. */
export const MAX_AUDIT_ENTITIES = 200;

/** Who is acting and why, fixed for a session; and whether the device is connected now, asked at each entry. */
export interface AuditContext {
  actor: string;
  /** The actor's display name, where known (not part of any entry: the trail and note authors show it). */
  actorName?: string;
  deviceId: string;
  purpose: string;
  /** Null when not known (the chain records null). */
  network?: () => AuditNetwork | null;
  /**
   * The purpose of an entry naming a patient, when it differs from `purpose`
   * (a break-the-glass grant active at `recordedAt`: EMERGENCY_PURPOSE); null keeps `purpose`.
   */
  purposeFor?: (patientId: string, recordedAt: string) => string | null;
}

/** What happened; one per access. */
export interface AuditRecord {
  action: AuditAction;
  subtype: AuditSubtype;
  patientId: string | null;
  entities: string[];
  query: string | null;
  outcome: AuditOutcome;
}

/** Sign the head once this many entries have gone unsigned (and on close). */
export const SIGN_EVERY_ENTRIES = 256;

/** SHA-256 over the previous entry's hash and this entry's canonical form. */
export function linkHash(prevHash: string, canonical: string): string {
  return hash('sha256', `${prevHash}\n${canonical}`, 'hex');
}

export function chainHash(prevHash: string, entry: AuditEntry): string {
  return linkHash(prevHash, canonicalAuditEntry(entry));
}

/** An entry as stored: the canonical text and its hashes. */
export interface StoredAuditEntry {
  seq: number;
  entry: string;
  prev_hash: string;
  hash: string;
}

/** The entry a stored row holds; throws on text that is not a canonical entry. */
export function storedEntry(row: Pick<StoredAuditEntry, 'entry'>): AuditEntry {
  const entry = parseCanonicalAuditEntry(row.entry);
  if (!entry) throw new Error('not a canonical audit entry');
  return entry;
}

/** A committed chain head: its last entry's seq and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export class AuditChain {
  private headListener: ((head: ChainHead) => void) | null = null;
  private readonly lastStmt;
  private readonly insertStmt;
  private readonly lastHeadStmt;
  private readonly insertHeadStmt;

  constructor(
    private readonly db: CacheDatabase,
    private readonly signingKey: KeyObject,
    private readonly context: AuditContext,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.lastStmt = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare('INSERT INTO audit_log (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)');
    this.lastHeadStmt = db.prepare('SELECT seq, hash FROM audit_heads ORDER BY seq DESC LIMIT 1');
    this.insertHeadStmt = db.prepare('INSERT OR REPLACE INTO audit_heads (seq, hash, signature, signed_at) VALUES (?, ?, ?, ?)');
  }

  /** Told the committed head after each transaction and at close (one listener; ./rollback-guard). */
  onHead(listener: ((head: ChainHead) => void) | null): void {
    this.headListener = listener;
  }

  /** Appends one entry. Call it inside the transaction that performs the access. */
  append(record: AuditRecord): AuditEntry {
    if (!this.db.inTransaction) throw new Error('audit append outside a transaction');
    const last = this.lastStmt.get() as { seq: number; hash: string } | undefined;
    const recordedAt = this.clock().toISOString();
    const entry: AuditEntry = {
      seq: (last?.seq ?? 0) + 1,
      recordedAt,
      actor: this.context.actor,
      deviceId: this.context.deviceId,
      purpose: (record.patientId !== null ? this.context.purposeFor?.(record.patientId, recordedAt) : null) ?? this.context.purpose,
      network: this.context.network?.() ?? null,
      ...record,
    };
    const prevHash = last?.hash ?? AUDIT_GENESIS_HASH;
    const canonical = canonicalAuditEntry(entry);
    this.insertStmt.run(entry.seq, canonical, prevHash, linkHash(prevHash, canonical));
    return entry;
  }

  /**
   * Records writes of resources into the cache (an import, a pull): per
   * patient, create if the patient is new to the cache, else update, with at
   * most MAX_AUDIT_ENTITIES references an entry so every entry stays well
   * within what the backend accepts.
   */
  appendWrites(writes: ReadonlyArray<{ patientId: string | null; ref: string; newPatient: boolean }>): void {
    const touched = new Map<string, { entities: string[]; created: boolean }>();
    for (const w of writes) {
      if (!w.patientId) continue;
      const seen = touched.get(w.patientId) ?? { entities: [], created: false };
      seen.entities.push(w.ref);
      seen.created ||= w.newPatient;
      touched.set(w.patientId, seen);
    }
    for (const [patientId, { entities, created }] of touched) {
      for (let i = 0; i < entities.length; i += MAX_AUDIT_ENTITIES) {
        this.append({
          action: created ? 'C' : 'U',
          subtype: created ? 'create' : 'update',
          patientId,
          entities: entities.slice(i, i + MAX_AUDIT_ENTITIES),
          query: null,
          outcome: '0',
        });
      }
    }
  }

  /**
   * After a rollback: in one transaction, takes the entries after `kept`
   * (the device's last entry the backend also holds), appends a rollback
   * entry that follows `backend` (the backend's last accepted entry), then
   * those entries again, each with its content unchanged and its new seq,
   * and signs the new head. Returns the rollback entry's seq and how many
   * entries were re-chained.
   */
  continueAfterRollback(kept: { seq: number; hash: string }, backend: { seq: number; hash: string }): { seq: number; rechained: number } {
    if (backend.seq <= kept.seq) throw new Error('a rollback continues after the backend head');
    const result = this.db.transaction(() => {
      const moved = (this.db.prepare('SELECT entry FROM audit_log WHERE seq > ? ORDER BY seq').pluck().all(kept.seq) as string[]).map((text) => storedEntry({ entry: text }));
      this.db.prepare('DELETE FROM audit_log WHERE seq > ?').run(kept.seq);
      this.db.prepare('DELETE FROM audit_heads WHERE seq > ?').run(kept.seq);
      const rollback: AuditEntry = {
        seq: backend.seq + 1,
        recordedAt: this.clock().toISOString(),
        actor: this.context.actor,
        deviceId: this.context.deviceId,
        purpose: this.context.purpose,
        network: this.context.network?.() ?? null,
        action: 'E',
        subtype: ROLLBACK_SUBTYPE,
        patientId: null,
        entities: rollbackEntities({ keptSeq: kept.seq, keptHash: kept.hash, backendSeq: backend.seq, backendHash: backend.hash, rechained: moved.length }),
        query: null,
        outcome: '0',
      };
      let prevHash = backend.hash;
      for (const entry of [rollback, ...moved.map((e, i) => ({ ...e, seq: backend.seq + 2 + i }))]) {
        const canonical = canonicalAuditEntry(entry);
        const hash = linkHash(prevHash, canonical);
        this.insertStmt.run(entry.seq, canonical, prevHash, hash);
        prevHash = hash;
      }
      this.signLast(true);
      return { seq: rollback.seq, rechained: moved.length };
    }).immediate();
    this.tellHead();
    return result;
  }

  /** The committed head to the listener (outside a transaction only). */
  private tellHead(last = this.lastStmt.get() as ChainHead | undefined): void {
    if (last && this.headListener && !this.db.inTransaction) this.headListener({ seq: last.seq, hash: last.hash });
  }

  /** Signs the current head when enough entries are unsigned, or when `force`; tells the listener the committed head. */
  signHead(force = false): void {
    const last = this.lastStmt.get() as ChainHead | undefined;
    this.tellHead(last);
    this.signLast(force, last);
  }

  private signLast(force: boolean, last = this.lastStmt.get() as ChainHead | undefined): void {
    if (!last) return;
    const head = this.lastHeadStmt.get() as { seq: number } | undefined;
    if (head && head.seq >= last.seq) return;
    if (!force && head && last.seq - head.seq < SIGN_EVERY_ENTRIES) return;
    const signature = sign(null, Buffer.from(auditHeadMessage(this.context.deviceId, last.seq, last.hash)), this.signingKey);
    this.insertHeadStmt.run(last.seq, last.hash, signature.toString('base64'), this.clock().toISOString());
  }
}

export type ChainProblem =
  | 'hash-mismatch'
  | 'broken-link'
  | 'sequence-gap'
  | 'bad-head-signature'
  | 'head-mismatch'
  | 'truncated'
  | 'receipt-mismatch';

export interface ChainReport {
  ok: boolean;
  entries: number;
  lastSeq: number;
  lastSignedSeq: number | null;
  /** Entries after the last signed head: whole, but not yet vouched for by a signature. */
  unsignedTail: number;
  firstBad: { seq: number; problem: ChainProblem } | null;
}

const PROBLEM_TEXT: Record<ChainProblem, string> = {
  'hash-mismatch': 'its content does not match its hash (edited or moved)',
  'broken-link': 'it does not follow the entry before it',
  'sequence-gap': 'entries before it are missing, or one was inserted',
  'bad-head-signature': 'the device signature over the chain head is not valid',
  'head-mismatch': 'the signed chain head does not match the entries',
  truncated: 'the chain ends before its last signed head (entries were removed)',
  'receipt-mismatch': 'the backend holds a signed receipt for it, but it is missing or changed here',
};

/**
 * Whether the chain holds the entry (seq, hash) a receipt names: the entry
 * itself, or a rollback entry right after it that continues from it (the
 * entries before it then live on the backend only). Seq 0 is the start.
 */
export function chainHoldsEntry(db: CacheDatabase, seq: number, hash: string): boolean {
  if (seq === 0) return hash === AUDIT_GENESIS_HASH;
  const row = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').pluck().get(seq) as string | undefined;
  if (row !== undefined) return row === hash;
  const next = db.prepare('SELECT entry, prev_hash FROM audit_log WHERE seq = ?').get(seq + 1) as { entry: string; prev_hash: string } | undefined;
  if (!next || next.prev_hash !== hash) return false;
  const entry = parseCanonicalAuditEntry(next.entry);
  const facts = entry ? rollbackFacts(entry) : null;
  return facts !== null && facts.backendSeq === seq && facts.backendHash === hash;
}

/** The facts of the rollback entry at a gap, when it bridges exactly from the entry before the gap. */
function bridgesGap(entry: string, seq: number, rowPrev: string, lastSeq: number, lastHash: string): boolean {
  const parsed = parseCanonicalAuditEntry(entry);
  const facts = parsed ? rollbackFacts(parsed) : null;
  return facts !== null && facts.keptSeq === lastSeq && facts.keptHash === lastHash && facts.backendSeq === seq - 1 && facts.backendHash === rowPrev;
}

export function describeChainProblem(bad: { seq: number; problem: ChainProblem }): string {
  return `Audit entry ${bad.seq} is bad: ${PROBLEM_TEXT[bad.problem]}.`;
}

/**
 * Recomputes the whole chain from `fromSeq` (default: the start) and checks
 * every signed head on the way against `publicKey`.
 */
export function verifyAuditChain(db: CacheDatabase, publicKey: KeyObject, deviceId: string, fromSeq = 1): ChainReport {
  const heads = new Map<number, { hash: string; signature: string }>();
  for (const h of db.prepare('SELECT seq, hash, signature FROM audit_heads WHERE seq >= ?').iterate(fromSeq) as Iterable<{
    seq: number;
    hash: string;
    signature: string;
  }>) {
    heads.set(h.seq, { hash: h.hash, signature: h.signature });
  }
  const lastSignedSeq = heads.size > 0 ? Math.max(...heads.keys()) : null;

  let prevHash = AUDIT_GENESIS_HASH;
  let expectedSeq = fromSeq;
  if (fromSeq > 1) {
    const before = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(fromSeq - 1) as { hash: string } | undefined;
    if (!before) return report(0, fromSeq - 1, { seq: fromSeq, problem: 'sequence-gap' });
    prevHash = before.hash;
  }
  let count = 0;
  let lastSeq = fromSeq - 1;

  function report(entries: number, last: number, firstBad: ChainReport['firstBad']): ChainReport {
    const unsignedTail = lastSignedSeq === null ? last - fromSeq + 1 : Math.max(0, last - lastSignedSeq);
    return { ok: firstBad === null, entries, lastSeq: last, lastSignedSeq, unsignedTail, firstBad };
  }

  // Raw rows of four columns: this loop runs a million times in a full verify.
  const rows = db
    .prepare('SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq >= ? ORDER BY seq')
    .raw()
    .iterate(fromSeq) as Iterable<[number, string, string, string]>;
  for (const [seq, entry, rowPrev, rowHash] of rows) {
    // A rollback entry bridges the entries only the backend still holds: it names the last entry both share.
    if (seq > expectedSeq && bridgesGap(entry, seq, rowPrev, lastSeq, prevHash)) prevHash = rowPrev;
    else if (seq !== expectedSeq) return report(count, lastSeq, { seq, problem: 'sequence-gap' });
    if (rowPrev !== prevHash) return report(count, lastSeq, { seq, problem: 'broken-link' });
    if (canonicalAuditSeq(entry) !== seq || linkHash(prevHash, entry) !== rowHash) {
      return report(count, lastSeq, { seq, problem: 'hash-mismatch' });
    }
    const head = heads.get(seq);
    if (head) {
      if (head.hash !== rowHash) return report(count, lastSeq, { seq, problem: 'head-mismatch' });
      const message = Buffer.from(auditHeadMessage(deviceId, seq, rowHash));
      if (!verify(null, message, publicKey, Buffer.from(head.signature, 'base64'))) {
        return report(count, lastSeq, { seq, problem: 'bad-head-signature' });
      }
    }
    prevHash = rowHash;
    lastSeq = seq;
    expectedSeq = seq + 1;
    count++;
  }
  if (lastSignedSeq !== null && lastSignedSeq > lastSeq) {
    return report(count, lastSeq, { seq: lastSeq + 1, problem: 'truncated' });
  }
  return report(count, lastSeq, null);
}
