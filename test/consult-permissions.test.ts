/**
 * Who may use the camera, the microphone and screen capture (the decisions
 * electron/window-policy.ts binds, driven directly: Electron cannot run
 * here): the whole table of origin x permission x call active x the
 * consultScreenShare policy, plus the shapes of ask that must never be
 * granted (subframes, no origin, look-alike origins, unknown media kinds),
 * and the grant's state as the consult service drives it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayMediaAllowed, MediaPermission, permissionAllowed, type MediaPolicyState, type PermissionAsk } from '../electron/services/consult/media-permission';

const APP = 'https://clinician.hospital.example';
const ORIGINS = {
  app: `${APP}/index.html`,
  other: 'https://evil.example/index.html',
  lookAlike: 'https://clinician.hospital.example.evil.example/index.html',
  otherPort: 'https://clinician.hospital.example:8443/index.html',
  plainHttp: 'http://clinician.hospital.example/index.html',
} as const;
type OriginKind = keyof typeof ORIGINS;

const PERMISSIONS = ['media', 'display-capture', 'geolocation', 'notifications', 'clipboard-read', 'fullscreen', 'openExternal', 'midi', 'hid', 'unknown'] as const;

function state(callActive: boolean, screenShareAllowed: boolean): MediaPolicyState {
  return { appOrigin: APP, callActive, screenShareAllowed };
}

function ask(permission: string, origin: OriginKind, extra: Partial<PermissionAsk> = {}): PermissionAsk {
  return { permission, origins: [ORIGINS[origin]], isMainFrame: true, ...(permission === 'media' ? { mediaTypes: ['audio', 'video'] } : {}), ...extra };
}

/** The one table: what is granted. Everything not listed is denied. */
function expected(permission: string, origin: OriginKind, callActive: boolean, policy: boolean): boolean {
  if (origin !== 'app' || !callActive) return false;
  if (permission === 'media') return true;
  if (permission === 'display-capture') return policy;
  return false;
}

test('permission requests and checks: camera and microphone only for the app origin during a call; screen capture only by policy; everything else denied', () => {
  let granted = 0;
  for (const permission of PERMISSIONS) {
    for (const origin of Object.keys(ORIGINS) as OriginKind[]) {
      for (const callActive of [false, true]) {
        for (const policy of [false, true]) {
          const got = permissionAllowed(ask(permission, origin), state(callActive, policy));
          assert.equal(got, expected(permission, origin, callActive, policy), `${permission} from ${origin}, call ${callActive ? 'active' : 'inactive'}, screen share policy ${policy}`);
          if (got) granted++;
        }
      }
    }
  }
  // media x (policy off, on) + display-capture x (policy on): the only grants in 200 cells.
  assert.equal(granted, 3);
});

test('camera and microphone: each kind alone is granted during a call; an unknown or empty kind never is', () => {
  const active = state(true, false);
  assert.equal(permissionAllowed(ask('media', 'app', { mediaTypes: ['audio'] }), active), true);
  assert.equal(permissionAllowed(ask('media', 'app', { mediaTypes: ['video'] }), active), true);
  // A permission check for enumerateDevices and the like names 'unknown': denied.
  assert.equal(permissionAllowed(ask('media', 'app', { mediaTypes: ['unknown'] }), active), false);
  assert.equal(permissionAllowed(ask('media', 'app', { mediaTypes: ['audio', 'unknown'] }), active), false);
  assert.equal(permissionAllowed(ask('media', 'app', { mediaTypes: [] }), active), false);
  assert.equal(permissionAllowed({ permission: 'media', origins: [ORIGINS.app], isMainFrame: true }, active), false);
});

test('never a subframe, an embedded frame, a missing origin, or one foreign origin among the app\'s', () => {
  const active = state(true, true);
  for (const permission of ['media', 'display-capture']) {
    assert.equal(permissionAllowed(ask(permission, 'app', { isMainFrame: false }), active), false, `${permission}: subframe`);
    assert.equal(permissionAllowed(ask(permission, 'app', { embeddingOrigin: APP }), active), false, `${permission}: embedded`);
    assert.equal(permissionAllowed(ask(permission, 'app', { origins: [] }), active), false, `${permission}: no origin`);
    assert.equal(permissionAllowed(ask(permission, 'app', { origins: [null, undefined, ''] }), active), false, `${permission}: empty origins`);
    assert.equal(permissionAllowed(ask(permission, 'app', { origins: ['not a url'] }), active), false, `${permission}: unparsable`);
    assert.equal(permissionAllowed(ask(permission, 'app', { origins: [ORIGINS.app, ORIGINS.other] }), active), false, `${permission}: mixed origins`);
    // The security origin and the URL agree: both the app's.
    assert.equal(permissionAllowed(ask(permission, 'app', { origins: [ORIGINS.app, APP] }), active), true, `${permission}: app`);
  }
  // An app origin that is not one (a misconfiguration) grants nothing.
  assert.equal(permissionAllowed(ask('media', 'app'), { appOrigin: 'nonsense', callActive: true, screenShareAllowed: true }), false);
});

test('screen sharing (getDisplayMedia): only with the policy, during a call, from the app\'s top-level page, on a user gesture', () => {
  const frame = (url: string, isMainFrame = true) => ({ url, isMainFrame });
  for (const callActive of [false, true]) {
    for (const policy of [false, true]) {
      for (const origin of Object.keys(ORIGINS) as OriginKind[]) {
        for (const userGesture of [false, true]) {
          const got = displayMediaAllowed({ securityOrigin: new URL(ORIGINS[origin]).origin, frame: frame(ORIGINS[origin]), userGesture }, state(callActive, policy));
          assert.equal(got, callActive && policy && origin === 'app' && userGesture, `call ${callActive}, policy ${policy}, ${origin}, gesture ${userGesture}`);
        }
      }
    }
  }
  const allowed = state(true, true);
  assert.equal(displayMediaAllowed({ securityOrigin: APP, frame: null, userGesture: true }, allowed), false, 'frame gone');
  assert.equal(displayMediaAllowed({ securityOrigin: APP, frame: frame(ORIGINS.app, false), userGesture: true }, allowed), false, 'subframe');
  assert.equal(displayMediaAllowed({ securityOrigin: APP, frame: frame(ORIGINS.other), userGesture: true }, allowed), false, 'frame elsewhere');
  assert.equal(displayMediaAllowed({ securityOrigin: 'https://evil.example', frame: frame(ORIGINS.app), userGesture: true }, allowed), false, 'origin elsewhere');
});

test('the grant follows the call: active from activate to withdraw; a late withdraw of an older connection leaves a newer one', () => {
  const media = new MediaPermission();
  const seen: boolean[] = [];
  media.onChange((active) => seen.push(active));
  assert.equal(media.active, false);
  media.activate('call-a#1');
  assert.equal(media.active, true);
  assert.equal(permissionAllowed(ask('media', 'app'), state(media.active, false)), true);
  media.withdraw('call-a#1');
  assert.equal(media.active, false);
  assert.equal(permissionAllowed(ask('media', 'app'), state(media.active, false)), false);
  media.activate('call-a#2');
  media.withdraw('call-a#1');
  assert.equal(media.active, true, 'the older connection\'s close does not withdraw the newer grant');
  media.withdraw();
  assert.equal(media.active, false);
  assert.deepEqual(seen, [true, false, true, false]);
});
