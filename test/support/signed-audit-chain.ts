/**
 * A device audit chain built by hand (canonical entries, hashes, a head
 * signed with the device's Ed25519 key) and a backend session for that
 * device: for backend tests that upload exactly the entries an honest or a
 * hostile device would send, at chosen times.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { AUDIT_GENESIS_HASH, auditHeadMessage, canonicalAuditEntry, type AuditEntry } from '../../shared/audit-entry';
import type { AuditUpload } from '../../shared/audit-upload';
import type { CacheSession } from '../../electron/services/cache-session';
import type { Db } from '../../server/database';
import { registerDevice } from './backend-db';

export type EntryFields = Partial<Omit<AuditEntry, 'seq'>> & { recordedAt: string; patientId: string | null };

export class HandBuiltDevice {
  readonly id = randomUUID();
  private readonly keys = generateKeyPairSync('ed25519');
  private seq = 0;
  private hash = AUDIT_GENESIS_HASH;
  /**
   * The clinician the device belongs to (the default actor of its entries)
   * and when it was enrolled (the backend refuses entries recorded before
   * that): a week ago by default, since hand-built chains back-date entries.
   */
  constructor(
    readonly clinicianId: string,
    readonly enrolledAt: Date = new Date(Date.now() - 7 * 24 * 3_600_000),
  ) {}

  get privateKey(): KeyObject {
    return this.keys.privateKey;
  }

  /** Registers the device for its clinician; returns a session token. */
  register(db: Db): Promise<string> {
    return registerDevice(db, this.clinicianId, { keys: { publicKey: this.keys.publicKey }, profile: { profileId: this.id } } as unknown as CacheSession, this.enrolledAt);
  }

  /** Appends entries to the chain and returns the upload of exactly them (the chain moves on: call again for the next upload). */
  upload(fields: EntryFields[]): AuditUpload {
    const entries = fields.map((f) => {
      const entry: AuditEntry = {
        seq: ++this.seq,
        actor: this.clinicianId,
        action: 'R',
        subtype: 'read',
        entities: f.patientId ? [`Patient/${f.patientId}`] : [],
        query: null,
        outcome: '0',
        deviceId: this.id,
        purpose: 'TREAT',
        network: 'online',
        ...f,
      };
      const text = canonicalAuditEntry(entry);
      const prevHash = this.hash;
      this.hash = createHash('sha256').update(`${prevHash}\n${text}`).digest('hex');
      return { seq: entry.seq, entry: text, prevHash, hash: this.hash };
    });
    const signature = sign(null, Buffer.from(auditHeadMessage(this.id, this.seq, this.hash)), this.keys.privateKey).toString('base64');
    return { entries, head: { seq: this.seq, hash: this.hash, signature } };
  }

  /** Forgets entries appended by a refused upload, so the next upload continues from what the backend holds. */
  rewind(to: { seq: number; hash: string }): void {
    this.seq = to.seq;
    this.hash = to.hash;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.hash };
  }
}
