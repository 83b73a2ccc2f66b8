/**
 * The per-key throttle behind `handles:update` (issue 11, signaling/throttle.ts): a lone change at
 * once, a burst as its last state at the end of the window. Fake timers: the window is the subject.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keyedThrottle } from '../../signaling/throttle';

function rig(everyMs = 50) {
  const sent: { key: string; value: number; late: boolean; at: number }[] = [];
  const t0 = Date.now();
  const throttle = keyedThrottle<number>(everyMs, (key, value, late) => sent.push({ key, value, late, at: Date.now() - t0 }));
  return { throttle, sent };
}

describe('keyedThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a lone change at once, and nothing more', async () => {
    const { throttle, sent } = rig();
    throttle.push('s1', 1);
    expect(sent).toEqual([{ key: 's1', value: 1, late: false, at: 0 }]);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toHaveLength(1);
  });

  it('sends a burst as its first change at once and its last state at the end of the window, in order', async () => {
    const { throttle, sent } = rig();
    throttle.push('s1', 1);
    await vi.advanceTimersByTimeAsync(10);
    throttle.push('s1', 2);
    throttle.push('s1', 3);
    await vi.advanceTimersByTimeAsync(39);
    expect(sent.map((s) => s.value)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([
      { key: 's1', value: 1, late: false, at: 0 },
      { key: 's1', value: 3, late: true, at: 50 },
    ]);
    // A change soon after the late send waits for the window that send opened.
    throttle.push('s1', 4);
    await vi.advanceTimersByTimeAsync(49);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.at(-1)).toEqual({ key: 's1', value: 4, late: true, at: 100 });
    // Quiet for a window: forgotten, so the next change goes at once again.
    await vi.advanceTimersByTimeAsync(50);
    throttle.push('s1', 5);
    expect(sent.at(-1)).toEqual({ key: 's1', value: 5, late: false, at: 150 });
    expect(sent.map((s) => s.value)).toEqual([1, 3, 4, 5]);
  });

  it('keeps keys apart: a burst in one session does not hold another session\'s change', async () => {
    const { throttle, sent } = rig();
    throttle.push('s1', 1);
    throttle.push('s1', 2);
    throttle.push('s2', 10);
    expect(sent.map((s) => [s.key, s.value])).toEqual([
      ['s1', 1],
      ['s2', 10],
    ]);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent.map((s) => [s.key, s.value])).toEqual([
      ['s1', 1],
      ['s2', 10],
      ['s1', 2],
    ]);
  });

  it('sends nothing after close', async () => {
    const { throttle, sent } = rig();
    throttle.push('s1', 1);
    throttle.push('s1', 2);
    throttle.close();
    await vi.advanceTimersByTimeAsync(500);
    expect(sent.map((s) => s.value)).toEqual([1]);
  });
});
