/**
 * Whether this page can encrypt media end to end: the standard encoded
 * transform (RTCRtpScriptTransform, with a transform slot on senders and
 * receivers). The media worker separately confirms the worker side
 * (onrtctransform) before any key or track exists. Without both the call
 * fails with encryption 'unavailable': never a fallback to plain media, and
 * never the legacy createEncodedStreams path.
 */
export function pageSupportsEncodedTransform(scope: typeof globalThis = globalThis): boolean {
  const g = scope as unknown as Record<string, unknown>;
  const transform = g.RTCRtpScriptTransform;
  const sender = g.RTCRtpSender as { prototype?: object } | undefined;
  const receiver = g.RTCRtpReceiver as { prototype?: object } | undefined;
  return (
    typeof transform === 'function' &&
    typeof g.Worker === 'function' &&
    !!sender?.prototype &&
    'transform' in sender.prototype &&
    !!receiver?.prototype &&
    'transform' in receiver.prototype
  );
}
