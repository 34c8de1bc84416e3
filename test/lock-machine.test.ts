/**
 * The lock state machine with an injected clock: idle time locks, activity
 * pushes the deadline back, only an unlocked app can lock, and every change
 * is visible to watchers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockMachine, type LockState } from '../electron/services/lock-machine';

test('locks after the idle time, not before; activity pushes the deadline back', () => {
  let now = 0;
  const m = new LockMachine({ kind: 'signed-out', reason: null }, 10 * 60_000, () => now);
  const seen: LockState['kind'][] = [];
  m.onChange((s) => seen.push(s.kind));
  m.unlocked();
  now = 9 * 60_000;
  assert.equal(m.isIdle(), false);
  m.activity();
  now = 18 * 60_000;
  assert.equal(m.isIdle(), false, 'activity at minute 9 moved the deadline to minute 19');
  now = 19 * 60_000;
  assert.equal(m.isIdle(), true);
  assert.equal(m.lock('idle'), true);
  assert.deepEqual(m.state, { kind: 'locked', reason: 'idle' });
  assert.equal(m.isIdle(), false, 'a locked app is not idle');
  assert.deepEqual(seen, ['unlocked', 'locked']);
});

test('only an unlocked app locks; sign-out and start-locked are explicit', () => {
  const m = new LockMachine({ kind: 'signed-out', reason: null }, 60_000, () => 0);
  assert.equal(m.lock('manual'), false);
  const v = m.version;
  m.startLocked();
  assert.deepEqual(m.state, { kind: 'locked', reason: 'start' });
  assert.equal(m.lock('sleep'), false, 'already locked');
  m.signedOut('revoked');
  assert.deepEqual(m.state, { kind: 'signed-out', reason: 'revoked' });
  assert.equal(m.version, v + 2);
});
