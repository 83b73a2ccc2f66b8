'use client';
import { useMemo, useSyncExternalStore } from 'react';
import type { Awareness } from 'y-protocols/awareness';
import type { SessionConnection } from '../client/session-connection';
import type { Authorship } from './authorship';

type States = Map<number, Record<string, unknown>>;
type Project<T> = (states: States, selfClientId: number, auth: Authorship) => T;

/**
 * A projection of the other peers' awareness states (validated by `project`, which should go through
 * `verifiedPresence`), announced only when its result changed (`key`): a pointer moving does not
 * re-render a view that shows who types where. Signature checks coming in count as a change.
 */
export class AwarenessProjection<T> {
  private value: T;
  private lastKey: string;

  constructor(
    private readonly awareness: Awareness,
    private readonly auth: Authorship,
    private readonly project: Project<T>,
    private readonly key: (value: T) => string,
  ) {
    this.value = this.compute();
    this.lastKey = key(this.value);
  }

  private compute(): T {
    return this.project(this.awareness.getStates() as States, this.awareness.clientID, this.auth);
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
    const offAuth = this.auth.subscribe(onChange);
    // Checks started by the first computation may have come in before anyone listened.
    onChange();
    return () => {
      this.awareness.off('change', onChange);
      offAuth();
    };
  };

  get = (): T => this.value;
}

/** `project` and `key` are fixed per feature (taken once per connection). */
export function useAwareness<T>(conn: SessionConnection, project: Project<T>, key: (value: T) => string): T {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const store = useMemo(() => new AwarenessProjection(conn.awareness, conn.auth, project, key), [conn]);
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
