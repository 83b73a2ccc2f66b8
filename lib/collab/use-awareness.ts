'use client';
import { useMemo, useSyncExternalStore } from 'react';
import type { Awareness } from 'y-protocols/awareness';
import type { SessionConnection } from '../client/session-connection';

type States = Map<number, Record<string, unknown>>;

/**
 * A projection of the other peers' awareness states (validated by `project`), announced only when
 * its result changed (`key`): a pointer moving does not re-render a view that shows who types where.
 */
export class AwarenessProjection<T> {
  private value: T;
  private lastKey: string;

  constructor(
    private readonly awareness: Awareness,
    private readonly project: (states: States, selfClientId: number) => T,
    private readonly key: (value: T) => string,
  ) {
    this.value = this.compute();
    this.lastKey = key(this.value);
  }

  private compute(): T {
    return this.project(this.awareness.getStates() as States, this.awareness.clientID);
  }

  subscribe = (listener: () => void): (() => void) => {
    const onChange = () => {
      const next = this.compute();
      const nextKey = this.key(next);
      if (nextKey === this.lastKey) return;
      this.value = next;
      this.lastKey = nextKey;
      listener();
    };
    this.awareness.on('change', onChange);
    return () => this.awareness.off('change', onChange);
  };

  get = (): T => this.value;
}

/** `project` and `key` are fixed per feature (taken once per connection). */
export function useAwareness<T>(conn: SessionConnection, project: (states: States, selfClientId: number) => T, key: (value: T) => string): T {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const store = useMemo(() => new AwarenessProjection(conn.awareness, project, key), [conn]);
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
