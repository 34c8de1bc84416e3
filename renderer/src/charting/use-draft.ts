/**
 * Unfinished work kept as it is typed: `useDraft(patientId, kind, target)`
 * loads the draft from the encrypted cache (drafts.list) and saves every
 * change with drafts.put, one write in flight and the latest value queued
 * behind it (no debounce timer that could drop the last keystrokes). A page
 * being hidden or closed, or the form unmounting, sends what is queued.
 * A draft is dropped only by `discard()`, after the work was saved, signed
 * or recorded, or when every field is emptied. Never discards on Esc or on
 * close, never keeps a copy anywhere but main (no web storage: it is PHI).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Draft, DraftKind } from '../../../shared/contract';
import { api, call } from '../clinician';

export type DraftBody = Record<string, string>;

export type DraftState = 'loading' | 'empty' | 'saving' | 'saved' | 'failed';

type Op = { kind: 'put'; body: DraftBody } | { kind: 'discard' };

export interface DraftHandle {
  body: DraftBody;
  /** True once the stored draft (if any) was read. */
  loaded: boolean;
  /** Whether a draft was found in the cache when loading. */
  restored: boolean;
  state: DraftState;
  /** ISO time of the last keystroke the cache holds. */
  updatedAt: string | null;
  set(field: string, value: string): void;
  replace(body: DraftBody): void;
  /** Drops the stored draft and empties the form (after the work was saved). */
  discard(): Promise<void>;
}

/**
 * One drafts.list call (audited in main) serves every form of a patient that
 * mounts while it is in flight (a problem list mounts one per row).
 */
const listing = new Map<string, Promise<Draft[]>>();
export function loadDrafts(patientId: string, fresh = false): Promise<Draft[]> {
  let pending = fresh ? undefined : listing.get(patientId);
  if (!pending) {
    // A write a lock cut off goes first, so the list holds the last keystroke.
    pending = sendCutOff(patientId).then(() => call(api().drafts.list({ patientId }))).then((r) => r.drafts);
    listing.set(patientId, pending);
    const mine = pending;
    const done = () => void (listing.get(patientId) === mine && listing.delete(patientId));
    pending.then(done, done);
  }
  return pending;
}

/** Told after a draft was created or dropped (the drafts lists refresh); not on every keystroke. */
const changed = new Set<() => void>();
export function onDraftsChanged(listener: () => void): () => void {
  changed.add(listener);
  return () => void changed.delete(listener);
}
const announce = () => {
  for (const l of changed) l();
};

const isBlank = (body: DraftBody) => Object.values(body).every((v) => v.trim() === '');

/**
 * `initial` is what the form shows when there is no stored draft (e.g. a
 * saved draft note's text); it is not written until the clinician types.
 */
interface WriteQueue {
  push(op: Op): void;
  /** Sends what waits; resolves when the queue is empty. */
  flush(): Promise<void>;
}

/**
 * Queues whose last write failed (a lock that started in main closed the
 * cache between the keystroke and its save) outlive their form: the form is
 * unmounted by the lock, so the value waits here, in this page's memory only,
 * and goes to the cache before the patient's drafts are next read (after the
 * unlock). Never written anywhere else.
 */
const cutOff = new Set<WriteQueue & { patientId: string }>();
function sendCutOff(patientId: string): Promise<void> {
  const waiting = [...cutOff].filter((q) => q.patientId === patientId);
  return Promise.all(waiting.map((q) => q.flush())).then(() => undefined);
}

/** One (patient, kind, target)'s writes: at most one call in flight and only the newest op waiting behind it. */
function writeQueue(patientId: string, kind: DraftKind, target: string, report: (state: DraftState, updatedAt?: string | null) => void): WriteQueue {
  let inFlight: Promise<void> | null = null;
  // Whether this queue has written the draft since it began or since a discard (the lists learn of a new one once).
  let written = false;
  let next: Op | null = null;
  const self = { patientId, push: (op: Op) => void op, flush: (): Promise<void> => Promise.resolve() };
  const flush = (): Promise<void> => {
    if (inFlight) return inFlight;
    const op = next;
    if (!op) return Promise.resolve();
    next = null;
    report('saving');
    const send = op.kind === 'put'
      ? call(api().drafts.put({ patientId, kind, target, body: op.body })).then((r) => r.updatedAt)
      : call(api().drafts.discard({ patientId, kind, target })).then(() => null);
    inFlight = send.then(
      (updatedAt) => {
        inFlight = null;
        if (!next) cutOff.delete(self);
        if (!next) report(op.kind === 'put' ? 'saved' : 'empty', updatedAt);
        if (op.kind === 'discard' || !written) announce();
        written = op.kind === 'put';
        return flush();
      },
      () => {
        inFlight = null;
        // Keep the value: the next keystroke, a flush, or the next read of this patient's drafts tries again.
        if (!next) next = op;
        cutOff.add(self);
        report('failed');
      },
    );
    return inFlight;
  };
  self.push = (op: Op) => {
    next = op;
    void flush();
  };
  self.flush = flush;
  return self;
}

/**
 * `initial` is what the form shows when there is no stored draft (e.g. a
 * saved draft note's text); it is not written until the clinician types.
 */
export function useDraft(patientId: string, kind: DraftKind, target: string, initial: DraftBody): DraftHandle {
  const [body, setBody] = useState<DraftBody>(initial);
  const [loaded, setLoaded] = useState(false);
  const [restored, setRestored] = useState(false);
  const [state, setState] = useState<DraftState>('loading');
  const [updatedAt, setUpdatedAt] = useState<string | null>(null);
  const initialRef = useRef(initial);
  initialRef.current = initial;
  const bodyRef = useRef(body);
  const typed = useRef(false);
  const mounted = useRef(true);
  const queue = useRef<WriteQueue | null>(null);
  const key = `${patientId}\u0000${kind}\u0000${target}`;

  const queueKey = useRef('');
  const report = useCallback((forKey: string) => (s: DraftState, at?: string | null) => {
    if (!mounted.current || queueKey.current !== forKey) return;
    setState(s);
    if (at !== undefined) setUpdatedAt(at);
  }, []);

  // A new queue and a fresh load whenever the (patient, kind, target) changes; the old queue still drains.
  useEffect(() => {
    mounted.current = true;
    const q = writeQueue(patientId, kind, target, report(key));
    queue.current = q;
    queueKey.current = key;
    typed.current = false;
    setLoaded(false);
    setRestored(false);
    setState('loading');
    setUpdatedAt(null);
    bodyRef.current = initialRef.current;
    setBody(initialRef.current);
    let cancelled = false;
    loadDrafts(patientId)
      .then((drafts) => {
        if (cancelled) return;
        const found = drafts.find((d) => d.kind === kind && d.target === target);
        // Typing that started before the load finished wins over the stored copy.
        if (found && !typed.current) {
          const next = { ...initialRef.current, ...found.body };
          bodyRef.current = next;
          setBody(next);
          setUpdatedAt(found.updatedAt);
          setRestored(true);
        }
        setState(found ? 'saved' : 'empty');
        setLoaded(true);
      })
      .catch(() => {
        if (cancelled) return;
        setState('failed');
        setLoaded(true);
      });
    const flush = () => void q.flush();
    const onVisibility = () => document.visibilityState === 'hidden' && flush();
    window.addEventListener('pagehide', flush);
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      cancelled = true;
      window.removeEventListener('pagehide', flush);
      document.removeEventListener('visibilitychange', onVisibility);
      flush();
    };
  }, [key, patientId, kind, target, report]);

  useEffect(() => () => {
    mounted.current = false;
  }, []);

  // Until the clinician types, the form follows `initial` (a saved draft note arriving with a chart reload).
  const restoredRef = useRef(false);
  restoredRef.current = restored;
  useEffect(() => {
    if (typed.current || restoredRef.current) return;
    bodyRef.current = initial;
    setBody(initial);
  }, [initial]);

  const write = useCallback((next: DraftBody) => {
    typed.current = true;
    bodyRef.current = next;
    setBody(next);
    queue.current?.push(isBlank(next) ? { kind: 'discard' } : { kind: 'put', body: next });
  }, []);

  const set = useCallback((field: string, value: string) => write({ ...bodyRef.current, [field]: value }), [write]);

  const discard = useCallback(async () => {
    const q = queue.current;
    const empty = Object.fromEntries(Object.keys(bodyRef.current).map((k) => [k, '']));
    bodyRef.current = empty;
    setBody(empty);
    setRestored(false);
    q?.push({ kind: 'discard' });
    await q?.flush();
  }, []);

  return { body, loaded, restored, state, updatedAt, set, replace: write, discard };
}

/** "last typed 3 min ago", from the draft's time and now. */
export function typedAgo(updatedAt: string, now: number = Date.now()): string {
  const minutes = Math.floor((now - Date.parse(updatedAt)) / 60_000);
  if (!Number.isFinite(minutes) || minutes < 1) return 'last typed just now';
  if (minutes < 60) return `last typed ${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `last typed ${hours} h ago`;
  return `last typed ${Math.floor(hours / 24)} d ago`;
}
