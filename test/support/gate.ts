/**
 * A gate a test opens by hand: a held answer calls `arrive()` and waits on
 * `opened`; the test awaits `reached`, looks at the state meanwhile, then
 * calls `open()`. Events only, never a timer.
 */
export function gate() {
  let arrive!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (open = r));
  return { reached, arrive, opened, open };
}
