/**
 * A Store that answers every call after a random delay (0–maxMs, 2 ms by default: a Redis round
 * trip), so concurrent operations interleave the way they do against a remote store. Used by tests
 * of concurrent attaches (issue 5: with a slow store, two peers attaching together never learned of
 * each other). Each call is still the inner store's one atomic step.
 */
import type { Store } from '../../signaling/store/types';

export function withLatency(inner: Store, opts: { maxMs?: number; random?: () => number } = {}): Store {
  const maxMs = opts.maxMs ?? 2;
  const random = opts.random ?? Math.random;
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * (maxMs + 1))));
  return new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await pause();
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        await pause();
        return result;
      };
    },
  });
}
