/**
 * Who is calling: the session a bearer token names, as the session store
 * found it in the database. Routes hand this to the authorization module;
 * nothing in a request body or path may stand in for any of it.
 */
export type SessionScope = 'full' | 'sync';

export interface Caller {
  clinicianId: string;
  deviceId: string;
  /** 'full' after a passkey sign-in; 'sync' (push and audit upload only) from the device key alone. */
  scope: SessionScope;
}
