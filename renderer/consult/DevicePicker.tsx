/**
 * Camera and microphone choice during a call. The list is read after the
 * page was allowed media (before that the browser gives no labels) and again
 * when a device is plugged in or out. Choosing one asks the engine to switch;
 * it never opens a device itself and never offers the screen.
 */
import { useEffect, useId, useState } from 'react';
import { listCallDevices, type DeviceChoice, type MediaDeviceOption } from './media-devices';

interface Props {
  /** The own stream: its tracks tell which devices are in use, and its presence that media was allowed. */
  localStream: MediaStream | null;
  onChoose(choice: DeviceChoice): void;
  disabled?: boolean;
}

function currentDevice(stream: MediaStream | null, kind: 'audio' | 'video'): string {
  const track = kind === 'audio' ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
  return track?.getSettings().deviceId ?? '';
}

export function DevicePicker({ localStream, onChoose, disabled }: Props) {
  const [devices, setDevices] = useState<MediaDeviceOption[]>([]);
  const cameraId = useId();
  const micId = useId();

  useEffect(() => {
    if (!localStream) return;
    let cancelled = false;
    const refresh = () => void listCallDevices().then((d) => !cancelled && setDevices(d), () => undefined);
    refresh();
    navigator.mediaDevices.addEventListener('devicechange', refresh);
    return () => {
      cancelled = true;
      navigator.mediaDevices.removeEventListener('devicechange', refresh);
    };
  }, [localStream]);

  if (!localStream) return null;
  const cameras = devices.filter((d) => d.kind === 'videoinput');
  const mics = devices.filter((d) => d.kind === 'audioinput');
  const camera = currentDevice(localStream, 'video');
  const mic = currentDevice(localStream, 'audio');
  const label = (d: MediaDeviceOption, i: number, what: string) => d.label || `${what} ${i + 1}`;

  return (
    <div className="consult-devices" data-testid="consult-devices">
      <label htmlFor={cameraId}>Camera</label>
      <select id={cameraId} value={camera} disabled={disabled || cameras.length === 0} onChange={(e) => onChoose({ videoDeviceId: e.target.value, audioDeviceId: mic || undefined })} data-testid="consult-camera">
        {cameras.length === 0 && <option value="">No camera found</option>}
        {cameras.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>{label(d, i, 'Camera')}</option>
        ))}
      </select>
      <label htmlFor={micId}>Microphone</label>
      <select id={micId} value={mic} disabled={disabled || mics.length === 0} onChange={(e) => onChoose({ audioDeviceId: e.target.value, videoDeviceId: camera || undefined })} data-testid="consult-microphone">
        {mics.length === 0 && <option value="">No microphone found</option>}
        {mics.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>{label(d, i, 'Microphone')}</option>
        ))}
      </select>
    </div>
  );
}
