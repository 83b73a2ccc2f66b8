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

  constructor(
    private readonly type: Y.AbstractType<any>,
    private readonly read: () => T,
  ) {}

  private readonly onChange = () => {
    this.stale = true;
    if (this.queued) return;
    this.queued = true;
    // A task of its own, not a microtask: the view is rebuilt after the task that applied the change
    // has ended, so a large sync (seconds of work for a 5 MB session) is two long tasks, not one
    // longer one, and the page can paint the progress in between.
    queueMicrotask(() => {
      this.queued = false;
      for (const l of this.listeners) l();
    });
  };

  subscribe = (listener: () => void): (() => void) => {
    if (this.listeners.size === 0) {
      this.type.observeDeep(this.onChange);
      // Changes while nobody listened were not seen: read afresh.
      this.stale = true;
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.type.unobserveDeep(this.onChange);
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
