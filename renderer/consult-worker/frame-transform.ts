/**
 * The encoded-frame pipeline of one RTCRtpScriptTransform inside the media
 * worker: every outgoing audio/video frame is replaced by its SFrame
 * encryption (whole frame, empty metadata), every incoming frame by its
 * authenticated decryption. A frame that cannot be encrypted (no own key yet)
 * or fails to decrypt (no key, failed authentication, replay, wrong sender
 * for this feed, malformed) is dropped: it is never enqueued, so it is never
 * sent in the clear and never played. Transforms whose options fail
 * validation pass nothing at all.
 *
 * Typed structurally (no DOM or WebWorker typings needed), so Node tests and
 * the worker share it. Never log or keep a frame's bytes.
 */
import { transformOptionsSchema, type MediaTransformOptions } from '../../shared/consult/media-worker-protocol';
import type { MediaWorkerSession } from './media-worker-session';

/** The part of RTCEncodedVideoFrame / RTCEncodedAudioFrame used here. */
export interface EncodedFrame {
  data: ArrayBuffer;
  /** Video frames only: 'key', 'delta' or 'empty'. */
  readonly type?: string;
}

/** The part of RTCRtpScriptTransformer used here. */
export interface ScriptTransformer {
  readonly readable: ReadableStream<EncodedFrame>;
  readonly writable: WritableStream<EncodedFrame>;
  readonly options: unknown;
  generateKeyFrame?(rid?: string): Promise<unknown>;
  sendKeyFrameRequest?(): Promise<void>;
}

/** At most one key-frame request per receiver per this many milliseconds. */
const KEY_FRAME_REQUEST_INTERVAL_MS = 1000;

function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}

export interface TransformHooks {
  now(): number;
  /** Told about each video send transform, so a new epoch can ask it for a key frame. */
  videoSender?(transformer: ScriptTransformer): void;
}

/**
 * Runs one transformer until its streams close. Resolves with the validated
 * options, or null when they were junk (nothing flows then).
 */
export async function runFrameTransform(transformer: ScriptTransformer, session: MediaWorkerSession, hooks: TransformHooks): Promise<MediaTransformOptions | null> {
  const parsed = transformOptionsSchema.safeParse(transformer.options);
  if (!parsed.success) {
    session.countRejected();
    await transformer.readable.cancel().catch(() => undefined);
    return null;
  }
  const options = parsed.data;
  if (options.direction === 'send' && options.kind === 'video') hooks.videoSender?.(transformer);
  let droppedSinceLast = false;
  let lastKeyFrameRequest = Number.NEGATIVE_INFINITY;

  const stream = new TransformStream<EncodedFrame, EncodedFrame>({
    async transform(frame, controller) {
      let out: Uint8Array | undefined;
      try {
        const payload = new Uint8Array(frame.data);
        out =
          options.direction === 'send'
            ? await session.encryptFrame(payload, options.kind === 'video' && frame.type === 'key' ? 'key-frame' : 'other')
            : await session.decryptFrame(payload, options.feed);
      } catch {
        out = undefined;
      }
      if (out === undefined) {
        droppedSinceLast = true;
        return;
      }
      frame.data = ownBuffer(out);
      controller.enqueue(frame);
      if (options.direction === 'recv' && options.kind === 'video' && droppedSinceLast) {
        // Frames were dropped before this one (no key yet, or a tampered run): the decoder needs a key frame to resume.
        droppedSinceLast = false;
        const now = hooks.now();
        if (now - lastKeyFrameRequest >= KEY_FRAME_REQUEST_INTERVAL_MS && transformer.sendKeyFrameRequest) {
          lastKeyFrameRequest = now;
          void transformer.sendKeyFrameRequest().catch(() => undefined);
        }
      }
    },
  });
  await transformer.readable
    .pipeThrough(stream)
    .pipeTo(transformer.writable)
    .catch(() => undefined);
  return options;
}
