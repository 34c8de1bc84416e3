/**
 * The lock state machine with injected clocks (wall and monotonic, the same
 * here; test/clock-tampering.test.ts moves them apart): idle time locks, activity
 * pushes the deadline back, only an unlocked app can lock, and every change
 * is visible to watchers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockMachine, type LockState } from '../electron/services/lock-machine';

test('locks after the idle time, not before; activity pushes the deadline back', () => {
  let now = 0;
  const m = new LockMachine({ kind: 'signed-out', reason: null }, 10 * 60_000, () => now, () => now);
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
  const m = new LockMachine({ kind: 'signed-out', reason: null }, 60_000, () => 0, () => 0);
  assert.equal(m.lock('manual'), false);
  const v = m.version;
  m.startLocked();
  assert.deepEqual(m.state, { kind: 'locked', reason: 'start' });
  assert.equal(m.lock('sleep'), false, 'already locked');
  m.signedOut('revoked');
  assert.deepEqual(m.state, { kind: 'signed-out', reason: 'revoked' });
  assert.equal(m.version, v + 2);
});

test('a lock that arrives while unlocking wins: the attempt can no longer finish as unlocked', () => {
  const m = new LockMachine({ kind: 'locked', reason: 'start' }, 60_000, () => 0, () => 0);
  const attempt = m.beginUnlock();
  assert.deepEqual(m.state, { kind: 'unlocking', attempt, from: 'locked' });
  assert.equal(m.isCurrent(attempt), true);
  assert.equal(m.lock('screen-lock'), true, 'an unlock under way is locked');
  assert.deepEqual(m.state, { kind: 'locked', reason: 'screen-lock' });
  assert.equal(m.unlockedBy(attempt), false, 'the overtaken attempt does not unlock');
  assert.deepEqual(m.state, { kind: 'locked', reason: 'screen-lock' });
  m.abandon(attempt);
  assert.deepEqual(m.state, { kind: 'locked', reason: 'screen-lock' }, 'its failure does not undo the lock');
});

test('a newer attempt replaces an older one; a failed attempt goes back to where it started', () => {
  let now = 0;
  const m = new LockMachine({ kind: 'signed-out', reason: null }, 60_000, () => now, () => now);
  const first = m.beginUnlock();
  const second = m.beginUnlock();
  assert.equal(m.isCurrent(first), false);
  assert.equal(m.unlockedBy(first), false);
  m.abandon(second);
  assert.deepEqual(m.state, { kind: 'signed-out', reason: null }, 'an enrollment that failed leaves the app signed out');
  const third = m.beginUnlock();
  now = 5_000;
  assert.equal(m.unlockedBy(third), true);
  assert.deepEqual(m.state, { kind: 'unlocked', since: 5_000 });
  assert.equal(m.isIdle(), false);
  now = 65_000;
  assert.equal(m.isIdle(), true, 'the idle time counts from the unlock');
});

test('an unlocking app is never idle and quit, sleep or revocation lock it like a screen lock', () => {
  for (const reason of ['quit', 'sleep', 'revoked', 'idle', 'manual'] as const) {
    let now = 0;
    const m = new LockMachine({ kind: 'locked', reason: 'start' }, 1_000, () => now, () => now);
    const attempt = m.beginUnlock();
    now = 10_000;
    assert.equal(m.isIdle(), false);
    assert.equal(m.lock(reason), true);
    assert.equal(m.unlockedBy(attempt), false, reason);
  }
});
