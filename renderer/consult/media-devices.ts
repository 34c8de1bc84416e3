/**
 * Opens this participant's camera and microphone for a call (the devices
 * the clinician or patient chose, exactly those when given) and lists the
 * available ones. Never opens the screen and never keeps a track running
 * after the call stops it.
 */
export interface DeviceChoice {
  audioDeviceId?: string;
  videoDeviceId?: string;
}

export async function openCallMedia(devices: DeviceChoice): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    audio: devices.audioDeviceId ? { deviceId: { exact: devices.audioDeviceId } } : true,
    video: devices.videoDeviceId
      ? { deviceId: { exact: devices.videoDeviceId }, width: { ideal: 1280 }, height: { ideal: 720 } }
      : { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
}

export interface MediaDeviceOption {
  deviceId: string;
  kind: 'audioinput' | 'videoinput';
  label: string;
}

/** Cameras and microphones (labels appear once the page has been allowed media). */
export async function listCallDevices(): Promise<MediaDeviceOption[]> {
  const all = await navigator.mediaDevices.enumerateDevices();
  return all
    .filter((d): d is MediaDeviceInfo & { kind: 'audioinput' | 'videoinput' } => d.kind === 'audioinput' || d.kind === 'videoinput')
    .map((d) => ({ deviceId: d.deviceId, kind: d.kind, label: d.label }));
}

export function stopTracks(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
