/**
 * S1 at scale (issue 9): waiting customers hear their place in the queue only when it changed, in
 * batches (signaling/queue-positions.ts). Fake timers: the batching interval is the subject.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueuePositions } from '../../signaling/queue-positions';

interface Sent {
  requestId: string;
  position: number;
  version: number;
}

function rig(initial: string[], here: (id: string) => boolean = () => true) {
  const queue = { version: 1, ids: [...initial] };
  const sent: Sent[] = [];
  let reads = 0;
  let gate: Promise<void> | null = null;
  const positions = new QueuePositions({
    order: async () => {
      reads++;
      const snapshot = { version: queue.version, requestIds: [...queue.ids] };
      if (gate) await gate;
      return snapshot;
    },
    isHere: here,
    send: (requestId, at) => sent.push({ requestId, ...at }),
    onError: (err) => {
      throw err;
    },
    intervalMs: 250,
    now: () => Date.now(),
  });
  const remove = (id: string) => {
    queue.ids = queue.ids.filter((x) => x !== id);
    queue.version++;
    positions.changed();
  };
  return {
    queue,
    sent,
    positions,
    remove,
    reads: () => reads,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

describe('[S1] queue positions', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tells only those whose place changed, once per batch, with the latest place', async () => {
    const r = rig(['a', 'b', 'c', 'd']);
    r.positions.answered('a', { position: 1, version: 1 });
    r.positions.answered('b', { position: 2, version: 1 });
    r.positions.answered('c', { position: 3, version: 1 });
    r.positions.answered('d', { position: 4, version: 1 });
    r.remove('a');
    r.remove('c');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.reads()).toBe(1);
    // b moved from 2 to 1, d from 4 to 2; nobody hears the in-between 3.
    expect(r.sent).toEqual([
      { requestId: 'b', position: 1, version: 3 },
      { requestId: 'd', position: 2, version: 3 },
    ]);
  });

  it('at most one batch per interval, however many changes', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    const r = rig(ids);
    ids.forEach((id, i) => r.positions.answered(id, { position: i + 1, version: 1 }));
    for (let i = 0; i < 20; i++) {
      r.remove(`r${i}`);
      await vi.advanceTimersByTimeAsync(50);
    }
    // 20 changes over a second: the first batch at once, then one every 250 ms.
    await vi.advanceTimersByTimeAsync(250);
    expect(r.reads()).toBeLessThanOrEqual(5);
    const last = r.sent.filter((s) => s.requestId === 'r49');
    expect(last.length).toBeLessThanOrEqual(5);
    expect(last.at(-1)).toEqual({ requestId: 'r49', position: 30, version: 21 });
    // Each customer's places only ever go down, each message newer than the one before.
    for (const id of ids.slice(20)) {
      const mine = r.sent.filter((s) => s.requestId === id);
      for (let i = 1; i < mine.length; i++) {
        expect(mine[i]!.position).toBeLessThan(mine[i - 1]!.position);
        expect(mine[i]!.version).toBeGreaterThan(mine[i - 1]!.version);
      }
    }
  });

  it('nothing is sent for a customer connected elsewhere, nor repeated after an answer', async () => {
    const r = rig(['a', 'b', 'c'], (id) => id !== 'c');
    r.positions.answered('b', { position: 1, version: 2 }); // an answer already as of the removal
    r.remove('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.sent).toEqual([]);
  });

  it('an answer older than what was told does not undo it', async () => {
    const r = rig(['a', 'b', 'c']);
    r.remove('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.sent.map((s) => s.requestId)).toEqual(['b', 'c']);
    r.positions.answered('c', { position: 3, version: 1 });
    r.remove('b');
    await vi.advanceTimersByTimeAsync(250);
    expect(r.sent.filter((s) => s.requestId === 'c')).toEqual([
      { requestId: 'c', position: 2, version: 2 },
      { requestId: 'c', position: 1, version: 3 },
    ]);
  });

  it('a change during a batch read brings another batch', async () => {
    const r = rig(['a', 'b', 'c']);
    const release = r.hold();
    r.remove('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.reads()).toBe(1);
    r.remove('b'); // while the first read is under way: not in it
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.sent.at(-1)).toEqual({ requestId: 'c', position: 2, version: 2 });
    await vi.advanceTimersByTimeAsync(250);
    expect(r.reads()).toBe(2);
    expect(r.sent.at(-1)).toEqual({ requestId: 'c', position: 1, version: 3 });
  });

  it('a batch whose read fails is tried again at the next interval', async () => {
    let fail = true;
    const sent: string[] = [];
    const errors: unknown[] = [];
    const positions = new QueuePositions({
      order: async () => {
        if (fail) throw new Error('store unavailable');
        return { version: 2, requestIds: ['b'] };
      },
      isHere: () => true,
      send: (requestId) => sent.push(requestId),
      onError: (err) => errors.push(err),
      intervalMs: 250,
      now: () => Date.now(),
    });
    positions.changed();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    fail = false;
    await vi.advanceTimersByTimeAsync(250);
    expect(sent).toEqual(['b']);
    positions.close();
  });

  it('after close nothing more is sent', async () => {
    const r = rig(['a', 'b']);
    r.positions.close();
    r.remove('a');
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.sent).toEqual([]);
  });
});
