/**
 * A view of one part of the shared document for React's useSyncExternalStore: read again (and
 * validated) only when that part changed, never on changes elsewhere in the document. Changes that
 * arrive together (a sync of many updates) are announced once, after them (a microtask later: a
 * task later was tried, and made controlled inputs that show a document value drop keystrokes).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- any Y type: its event type does not matter here */
import type * as Y from 'yjs';

export class DocPart<T> {
  private value: T | undefined;
  private stale = true;
  private readonly listeners = new Set<() => void>();
  private queued = false;

  private offAlso: (() => void) | null = null;

  /**
   * `also`: another source the read depends on (the signatures checked so far, lib/collab/authorship.ts):
   * when it announces a change, the part is read again too.
   */
  constructor(
    private readonly type: Y.AbstractType<any>,
    private readonly read: () => T,
    private readonly also?: { subscribe(listener: () => void): () => void },
  ) {}

  private readonly onChange = () => {
    this.stale = true;
    if (this.queued) return;
    this.queued = true;
    // A microtask: the view is rebuilt once, after the whole change (a sync of many updates) is
    // applied; a task later was tried and made controlled inputs that show a document value drop
    // keystrokes (decision 0006).
    queueMicrotask(() => {
      this.queued = false;
      for (const l of this.listeners) l();
    });
  };

  subscribe = (listener: () => void): (() => void) => {
    if (this.listeners.size === 0) {
      this.type.observeDeep(this.onChange);
      this.offAlso = this.also?.subscribe(this.onChange) ?? null;
      // Changes while nobody listened were not seen: read afresh.
      this.stale = true;
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.type.unobserveDeep(this.onChange);
        this.offAlso?.();
        this.offAlso = null;
      }
    };
  };

  getSnapshot = (): T => {
    if (this.stale || this.value === undefined) {
      this.value = this.read();
      this.stale = false;
    }
    return this.value;
  };
}
