/**
 * The clinician's enrolled devices, with revoke, in a modal dialog. Revoking
 * this computer wipes its cache at once (main deletes the keychain entries,
 * then files), so it asks first. Holds no PHI.
 */
import { useEffect, useState } from 'react';
import type { CallOutput } from '../../../shared/contract';
import { api, call } from '../clinician';
import { formatDate } from '../fhir-format';
import { ConfirmDialog, Dialog } from '../ui/Dialog';

type Devices = CallOutput<'devices.list'>;

export function DevicesPanel({ onClose }: { onClose(): void }) {
  const [devices, setDevices] = useState<Devices | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const load = () => call(api().devices.list({})).then(setDevices, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const revoke = (id: string) => {
    setConfirming(null);
    call(api().devices.revoke({ deviceId: id })).then(load, (e: Error) => setError(e.message));
  };
  const name = (id: string) => (id === devices?.thisDevice ? 'This computer' : `Device ${id.slice(0, 8)}`);
  return (
    <Dialog title="Your devices" onClose={onClose} testId="devices-panel" description="Computers where you set up a passkey. Revoke one you no longer use or have lost.">
      {error && <p className="error" role="alert">{error}</p>}
      {!devices && !error && <p className="muted">Loading…</p>}
      <ul className="device-list">
        {devices?.devices.map((d) => (
          <li key={d.id} data-testid="device">
            <span>
              <strong>{name(d.id)}</strong>
              <br />
              <span className="muted">enrolled {formatDate(d.createdAt)}{d.lastSeenAt ? `, last seen ${formatDate(d.lastSeenAt, true)}` : ''}</span>
            </span>
            {d.revokedAt ? (
              <span className="pill pill-bad">Revoked</span>
            ) : (
              <button type="button" className="secondary" onClick={() => setConfirming(d.id)}>
                Revoke<span className="sr-only"> {name(d.id)}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      {confirming && (
        <ConfirmDialog title={`Revoke ${name(confirming).toLowerCase()}?`} confirmLabel="Revoke" onConfirm={() => revoke(confirming)} onCancel={() => setConfirming(null)} testId="revoke-confirm">
          <p>
            {confirming === devices?.thisDevice
              ? 'This computer can no longer sign in, and its encrypted patient cache is deleted now. Changes not yet sent are lost.'
              : 'That device can no longer sign in or sync, and it deletes its patient cache the next time it reaches the hospital server.'}
          </p>
        </ConfirmDialog>
      )}
    </Dialog>
  );
}
