/**
 * S1 at scale (issue 9): an agent's console keeps the queue from changes, not from the whole queue
 * (lib/client/queue-view.ts). Whatever the order of changes and late snapshots, what it shows is the
 * true head of the queue and the true count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QueueChange, QueueEntry, QueueSnapshot } from '../../lib/protocol';
import { applyChange, applySnapshot, emptyQueueView, needsMore, reconnected, stalled, type QueueView } from '../../lib/client/queue-view';

const freshView = (snap: QueueSnapshot) => applySnapshot(emptyQueueView, snap);

const entry = (n: number): QueueEntry => ({ requestId: `request-${n}`, name: `Customer ${n}`, topic: '', requestedAt: n });

/** The server's queue, as the store keeps it: versions and the order of arrival. */
class Server {
  /** `Limits.queueHead` (smaller here, so that the tests reach past it). */
  constructor(private readonly head = 5) {}
  version = 0;
  queue: QueueEntry[] = [];
  /** The queue's ids as of each version. */
  history: string[][] = [[]];
  private next = 1;
  add(): QueueChange {
    const e = entry(this.next++);
    this.queue.push(e);
    return this.changed({ added: e });
  }
  remove(i: number, because: 'taken' | 'left'): QueueChange | null {
    const e = this.queue[i];
    if (!e) return null;
    this.queue.splice(i, 1);
    const next = i < this.head ? this.queue[this.head - 1] : undefined;
    return this.changed({ removed: { requestId: e.requestId, because }, ...(next ? { next: { place: this.head, entry: next } } : {}) });
  }
  private changed(what: Pick<QueueChange, 'added' | 'removed' | 'next'>): QueueChange {
    this.history.push(this.queue.map((e) => e.requestId));
    return { version: ++this.version, count: this.queue.length, ...what };
  }
  snapshot(limit: number): QueueSnapshot {
    return { version: this.version, count: this.queue.length, entries: this.queue.slice(0, limit) };
  }
}

const ids = (v: QueueView) => v.entries.map((e) => e.requestId);

describe('[S1] queue view', () => {
  it('a newcomer shows when the console holds the whole queue, and only counts when it does not', () => {
    const s = new Server();
    s.add();
    s.add();
    let v = freshView(s.snapshot(20));
    v = applyChange(v, s.add());
    expect(ids(v)).toEqual(['request-1', 'request-2', 'request-3']);
    // A console holding only the first two: the third is beyond its end, the count says it is there.
    let short = freshView(s.snapshot(2));
    short = applyChange(short, s.add());
    expect(ids(short)).toEqual(['request-1', 'request-2']);
    expect(short.count).toBe(4);
    expect(needsMore(short, 3)).toBe(true);
    expect(needsMore(short, 2)).toBe(false);
  });

  it('someone taken or gone leaves every console, and the console asks for more when it runs short', () => {
    const s = new Server();
    for (let i = 0; i < 5; i++) s.add();
    let v = freshView(s.snapshot(3));
    v = applyChange(v, s.remove(0, 'taken')!);
    v = applyChange(v, s.remove(0, 'left')!);
    expect(ids(v)).toEqual(['request-3']);
    expect(v.count).toBe(3);
    expect(needsMore(v, 3)).toBe(true);
    v = applySnapshot(v, s.snapshot(3));
    expect(ids(v)).toEqual(['request-3', 'request-4', 'request-5']);
  });

  it('a snapshot read before changes that arrived first is brought up to date, not taken as it is', () => {
    const s = new Server();
    for (let i = 0; i < 4; i++) s.add();
    let v = freshView(s.snapshot(1));
    const old = s.snapshot(10); // read now, answered later
    v = applyChange(v, s.remove(0, 'taken')!);
    v = applyChange(v, s.add());
    v = applySnapshot(v, old);
    expect(ids(v)).toEqual(['request-2', 'request-3', 'request-4', 'request-5']);
    expect(v.version).toBe(s.version);
  });

  it('a change ahead of a missing one waits for it; a duplicate changes nothing', () => {
    const s = new Server();
    let v = freshView(s.snapshot(10));
    const first = s.add();
    const second = s.add();
    v = applyChange(v, second);
    expect(stalled(v)).toBe(true);
    expect(ids(v)).toEqual([]);
    v = applyChange(v, first);
    expect(stalled(v)).toBe(false);
    expect(ids(v)).toEqual(['request-1', 'request-2']);
    v = applyChange(v, first);
    expect(ids(v)).toEqual(['request-1', 'request-2']);
  });

  it('property: any mix of changes, late snapshots and reordering ends showing the true head and count', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const) }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat(30), because: fc.constantFrom('taken' as const, 'left' as const) }),
      fc.record({ kind: fc.constant('ask' as const), limit: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('deliver' as const), swap: fc.boolean() }),
      fc.record({ kind: fc.constant('answer' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 12 }), (initial, ops, firstLimit) => {
        const s = new Server();
        for (let i = 0; i < initial; i++) s.add();
        let v: QueueView = freshView(s.snapshot(firstLimit));
        const inFlight: QueueChange[] = [];
        const answers: QueueSnapshot[] = [];
        const deliver = (swap: boolean) => {
          // Across nodes two changes may overtake each other.
          if (swap && inFlight.length >= 2) [inFlight[0], inFlight[1]] = [inFlight[1]!, inFlight[0]!];
          const c = inFlight.shift();
          if (c) v = applyChange(v, c);
        };
        for (const o of ops) {
          if (o.kind === 'add') inFlight.push(s.add());
          else if (o.kind === 'remove') {
            const c = s.queue.length > 0 ? s.remove(o.at % s.queue.length, o.because) : null;
            if (c) inFlight.push(c);
          } else if (o.kind === 'ask') answers.push(s.snapshot(o.limit));
          else if (o.kind === 'deliver') deliver(o.swap);
          else {
            const a = answers.shift();
            if (a) v = applySnapshot(v, a);
          }
          // At every moment: what the console holds is a true head of the queue as of its version.
          expect(v.count).toBe(s.history[v.version]!.length);
          expect(ids(v)).toEqual(s.history[v.version]!.slice(0, v.entries.length));
        }
        while (inFlight.length > 0) deliver(false);
        while (answers.length > 0) v = applySnapshot(v, answers.shift()!);
        expect(stalled(v)).toBe(false);
        expect(v.version).toBe(s.version);
        expect(v.count).toBe(s.queue.length);
        expect(ids(v)).toEqual(s.queue.slice(0, v.entries.length).map((e) => e.requestId));
      }),
      { numRuns: 400 },
    );
  });

  it('changes that arrive before the sign-in is answered are kept and replayed over its snapshot', () => {
    const s = new Server();
    s.add();
    const signIn = s.snapshot(20); // read by the server, answered after two more changes
    let v = applyChange(emptyQueueView, s.add());
    v = applyChange(v, s.remove(0, 'taken')!);
    expect(ids(v)).toEqual([]); // nothing shown before the snapshot
    v = applySnapshot(v, signIn);
    expect(ids(v)).toEqual(['request-2']);
    expect(v.count).toBe(1);
  });

  it('a new connection starts over: what the old one received is not replayed (the server may have restarted)', () => {
    const before = new Server();
    for (let i = 0; i < 3; i++) before.add();
    let v = freshView(before.snapshot(20));
    v = applyChange(v, before.remove(0, 'taken')!);
    v = reconnected(v);
    expect(ids(v)).toEqual(['request-2', 'request-3']); // still on screen until the new snapshot
    expect(needsMore(v, 10)).toBe(false); // and nothing fetched meanwhile
    const restarted = new Server(); // versions from 0 again
    restarted.add();
    v = applySnapshot(v, restarted.snapshot(20));
    expect(ids(v)).toEqual(['request-1']);
    expect(v.version).toBe(1);
  });

  it('property: a console holding the whole queue follows it exactly, whatever the changes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const) }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat(30), because: fc.constantFrom('taken' as const, 'left' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.array(op, { maxLength: 60 }), (initial, ops) => {
        const s = new Server();
        for (let i = 0; i < initial; i++) s.add();
        let v = freshView(s.snapshot(1000));
        for (const o of ops) {
          const c = o.kind === 'add' ? s.add() : s.queue.length > 0 ? s.remove(o.at % s.queue.length, o.because) : null;
          if (c) v = applyChange(v, c);
          expect(ids(v)).toEqual(s.queue.map((e) => e.requestId));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: a console holding the head of the queue keeps holding it from the changes alone, never asking', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const) }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat(30), because: fc.constantFrom('taken' as const, 'left' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.array(op, { maxLength: 80 }), (initial, ops) => {
        const head = 5;
        const s = new Server(head);
        for (let i = 0; i < initial; i++) s.add();
        let v = freshView(s.snapshot(head));
        for (const o of ops) {
          const c = o.kind === 'add' ? s.add() : s.queue.length > 0 ? s.remove(o.at % s.queue.length, o.because) : null;
          if (c) v = applyChange(v, c);
          // At least the head (more when it held the whole queue as newcomers came), all of it true.
          expect(v.entries.length).toBeGreaterThanOrEqual(Math.min(head, s.queue.length));
          expect(ids(v)).toEqual(s.queue.slice(0, v.entries.length).map((e) => e.requestId));
          expect(needsMore(v, head)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the empty view holds nothing and needs nothing', () => {
    expect(needsMore(emptyQueueView, 10)).toBe(false);
    expect(stalled(emptyQueueView)).toBe(false);
  });
});
