/**
 * The clinician's enrolled devices, with revoke. Revoking this computer
 * wipes its cache at once (main deletes the keychain entries, then files).
 */
import { useEffect, useState } from 'react';
import type { CallOutput } from '../../shared/contract';
import { api, call } from './clinician';
import { formatDate } from './fhir-format';

type Devices = CallOutput<'devices.list'>;

export function DevicesPanel({ onClose }: { onClose(): void }) {
  const [devices, setDevices] = useState<Devices | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => call(api().devices.list({})).then(setDevices, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const revoke = (id: string) => call(api().devices.revoke({ deviceId: id })).then(load, (e: Error) => setError(e.message));
  return (
    <section className="devices" aria-label="Your devices" data-testid="devices-panel">
      <header><h2>Your devices</h2><button type="button" className="close" onClick={onClose}>Close</button></header>
      {error && <p className="error" role="alert">{error}</p>}
      <ul>
        {devices?.devices.map((d) => (
          <li key={d.id} data-testid="device">
            <span>{d.id === devices.thisDevice ? 'This computer' : `Device ${d.id.slice(0, 8)}`}</span>
            <span className="muted">enrolled {formatDate(d.createdAt)}{d.lastSeenAt ? `, last seen ${formatDate(d.lastSeenAt, true)}` : ''}</span>
            {d.revokedAt ? <span className="pill pill-bad">revoked</span> : <button type="button" className="link" onClick={() => void revoke(d.id)}>Revoke</button>}
          </li>
        ))}
      </ul>
    </section>
  );
}
