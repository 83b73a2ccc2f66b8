/**
 * At most one message per key per window, the latest state last (issue 11: `handles:update`).
 *
 * The first change of a key is sent at once. Changes within `everyMs` of a send are held, and only
 * the latest is sent, at the end of the window (which starts a new one); a quiet window forgets the
 * key. So an isolated change is not delayed at all, a burst costs one message per window instead of
 * one per change, and the last state of every burst is always sent.
 *
 * A send at the end of a window is marked `late`: what it holds was computed up to a window ago, and
 * the caller may read the state afresh (with several nodes another one may have changed it since).
 */
export interface KeyedThrottle<V> {
  /** `key`'s state is now `value`: sent now, or at the end of the current window. */
  push(key: string, value: V): void;
  /** Drops what is held and stops every timer (nothing is sent after this). */
  close(): void;
}

export function keyedThrottle<V>(everyMs: number, send: (key: string, value: V, late: boolean) => void): KeyedThrottle<V> {
  /** Keys within a window since their last send, with the state held for its end (if any). */
  const windows = new Map<string, { held: { value: V } | null; timer: ReturnType<typeof setTimeout> }>();
  const open = (key: string) => {
    const w = { held: null as { value: V } | null, timer: setTimeout(() => end(key), everyMs) };
    // Nothing to keep the process alive for: a closing server drops what is held.
    w.timer.unref?.();
    windows.set(key, w);
  };
  const end = (key: string) => {
    const w = windows.get(key);
    windows.delete(key);
    if (!w?.held) return;
    open(key);
    send(key, w.held.value, true);
  };
  return {
    push(key, value) {
      const w = windows.get(key);
      if (w) {
        w.held = { value };
        return;
      }
      open(key);
      send(key, value, false);
    },
    close() {
      for (const w of windows.values()) clearTimeout(w.timer);
      windows.clear();
    },
  };
}
