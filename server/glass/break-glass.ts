/**
 * Breaking the glass: the caller's handle from a restricted search is used
 * up, and, in the same transaction, a grant is stored (until now + the
 * policy's breakGlassMinutes), the grant is recorded in the backend's
 * disclosure ledger (subtype 'break-glass', purpose ETREAT, the reason code
 * and the grant's end as entities, the free text as the query), and a
 * privacy flag is raised at once for the privacy officer. A handle that is
 * unknown, expired, used, or another clinician's or device's changes
 * nothing and answers null (the route refuses it one way). The reason is
 * checked by the route before the handle is touched. Never put the free
 * text in the flag, a log line or an error.
 */
import { glassFacts, type GlassGrantReply } from '../../shared/glass-api';
import type { z } from 'zod';
import type { glassReasonSchema } from '../../shared/contract';
import type { Caller } from '../auth/caller';
import { plusMinutes, type Clock } from '../clock';
import type { Db } from '../database';
import { recordDisclosures } from '../audit/disclosure-ledger';
import { readPolicy } from '../organisation/organisation';
import { breakGlassDedupeKey, raiseFlag } from '../privacy/flags';
import { redeemHandle, storeGrant } from './grant-store';

export const BREAK_GLASS_EXPLANATION = 'The clinician broke the glass to reach a patient not assigned to them.';

export async function breakGlass(db: Db, caller: Caller, handle: string, reason: z.infer<typeof glassReasonSchema>, clock: Clock): Promise<GlassGrantReply | null> {
  const { breakGlassMinutes } = await readPolicy(db);
  return db.transaction().execute(async (trx) => {
    const now = clock();
    const patientId = await redeemHandle(trx, caller, handle, now);
    if (patientId === null) return null;
    const grantedAt = now.toISOString();
    const expiresAt = plusMinutes(now, breakGlassMinutes);
    await storeGrant(trx, { clinicianId: caller.clinicianId, deviceId: caller.deviceId, patientId, reasonCode: reason.code, reasonText: reason.text, grantedAt, expiresAt });
    await recordDisclosures(
      trx,
      caller,
      [{ action: 'E', subtype: 'break-glass', patientId, entities: glassFacts({ reason: reason.code, expiresAt }), outcome: '0', query: reason.text === '' ? null : reason.text }],
      clock,
    );
    // The grant's own disclosure is the last entry of the chain: this transaction holds the head.
    const head = await trx.selectFrom('disclosure_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
    await raiseFlag(
      trx,
      {
        rule: 'break-glass',
        clinicianId: caller.clinicianId,
        patientId,
        explanation: BREAK_GLASS_EXPLANATION,
        evidence: { refs: [{ kind: 'backend', seq: Number(head.seq) }], refsTotal: 1, numbers: { reason: reason.code, minutes: breakGlassMinutes, expiresAt } },
        dedupeKey: breakGlassDedupeKey(caller.clinicianId, patientId, grantedAt),
        at: grantedAt,
      },
      clock,
    );
    return { patientId, expiresAt };
  });
}
