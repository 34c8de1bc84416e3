/**
 * Holds the next call of one method of an object (a backend client's push or
 * pull) at a gate the test opens: `reached` resolves when the call arrives,
 * the call goes on to the real method after `release()`. For races driven by
 * events, never by sleeps. `restore()` puts the method back.
 */
export interface HeldCall {
  /** Resolves when the held call has arrived. */
  reached: Promise<void>;
  /** Lets the held call go on to the real method. */
  release(): void;
  /** Puts the original method back (calls after this are not held). */
  restore(): void;
}

export function holdNextCall<T extends object, K extends keyof T>(target: T, method: K): HeldCall {
  const original = target[method] as unknown as (...args: unknown[]) => Promise<unknown>;
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const open = new Promise<void>((r) => (release = r));
  let armed = true;
  const own = Object.prototype.hasOwnProperty.call(target, method);
  const restore = () => {
    if (own) (target as Record<K, unknown>)[method] = original;
    else delete (target as Partial<Record<K, unknown>>)[method];
  };
  (target as Record<K, unknown>)[method] = async function held(this: unknown, ...args: unknown[]) {
    if (armed) {
      armed = false;
      arrive();
      await open;
    }
    return original.apply(target, args);
  };
  return { reached, release, restore };
}
