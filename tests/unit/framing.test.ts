import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Deflate } from 'fflate';
import { CHUNK_BYTES, deflatedFrames, frames, type InflateWith, nativeInflate, Reassembler } from '../../lib/p2p/framing';
import { prose } from '../support/prose';

/** Word-like text (what a transcript holds): deflate takes it to about a third. */
const text = (bytes: number, seed = 1) => new TextEncoder().encode(prose(bytes, seed));

/** A plain frame: its message (or null) comes back at once, never as a promise. */
function pushPlain(r: Reassembler, f: Uint8Array): Uint8Array | null {
  const whole = r.push(f);
  if (whole instanceof Promise) throw new Error('a plain frame gave a promise');
  return whole;
}

/**
 * Every frame of `frames` through one reassembler, as the mesh feeds it (a frame only once the
 * message before it is inflated): the messages it gives back.
 */
async function reassemble(r: Reassembler, all: Iterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const f of all) {
    const whole = await r.push(f);
    if (whole) out.push(whole);
  }
  return out;
}

// Chromium drops data-channel messages over ~256 KiB without a word; every frame must stay far below.
describe('data-channel framing (late joiners of large documents)', () => {
  it('cuts any message into frames no larger than a chunk plus its flag byte, and reassembles it exactly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5 * CHUNK_BYTES + 7 }), fc.integer({ min: 1, max: 4096 }), (message, chunk) => {
        const r = new Reassembler(1 << 20);
        const out: Uint8Array[] = [];
        let count = 0;
        for (const f of frames(message, chunk)) {
          count++;
          expect(f.byteLength).toBeLessThanOrEqual(chunk + 1);
          const whole = pushPlain(r, f);
          if (whole) out.push(whole);
        }
        expect(count).toBe(Math.max(1, Math.ceil(message.byteLength / chunk)));
        expect(out).toHaveLength(1);
        expect(Array.from(out[0]!)).toEqual(Array.from(message));
      }),
    );
  });

  it('keeps consecutive messages apart', () => {
    const r = new Reassembler(1 << 20);
    const a = new Uint8Array(CHUNK_BYTES * 2 + 1).fill(1);
    const b = Uint8Array.of(2, 3);
    const got: number[][] = [];
    for (const m of [a, b]) for (const f of frames(m)) {
      const whole = pushPlain(r, f);
      if (whole) got.push(Array.from(whole));
    }
    expect(got).toEqual([Array.from(a), Array.from(b)]);
  });

  it('refuses a peer that makes us buffer more than the cap, or sends a frame with a bad flag', () => {
    const r = new Reassembler(10);
    expect(() => {
      for (const f of frames(new Uint8Array(64), 8)) r.push(f);
    }).toThrow('message too large');
    expect(() => new Reassembler(10).push(Uint8Array.of(7, 1))).toThrow('bad frame flag');
    expect(() => new Reassembler(10).push(new Uint8Array(0))).toThrow('empty frame');
  });

  it('a 4 MiB document becomes frames of at most 16 KiB + 1 byte', () => {
    let max = 0;
    for (const f of frames(new Uint8Array(4 * 1024 * 1024))) max = Math.max(max, f.byteLength);
    expect(max).toBe(CHUNK_BYTES + 1);
  });

  it('makes its frames as they are asked for: the first one before the whole message is compressed', () => {
    const big = text(4_000_000);
    let read = 0;
    // Counts how far into the message the compressor has read.
    const spy = new Proxy(big, {
      get(target, prop) {
        if (prop === 'subarray') return (a: number, b: number) => ((read = Math.max(read, b)), target.subarray(a, b));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const it = deflatedFrames(spy, 16 * 1024);
    it.next();
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(big.byteLength / 10);
  });

  it('only the two flag bits are known', () => {
    expect(() => new Reassembler(10).push(Uint8Array.of(4, 1))).toThrow('bad frame flag');
  });
});

/** Resolves once `cond` holds, checking once per task (a native stream works between tasks). */
async function until(cond: () => boolean, tasks = 1000): Promise<void> {
  for (let i = 0; i < tasks && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 0));
  expect(cond()).toBe(true);
}

// The same deflated messages, inflated by fflate and by the runtime's DecompressionStream (Node has it).
describe.each<InflateWith>(['fflate', 'native'])('deflated messages, inflated by %s', (inflateWith) => {
  it('this runtime inflates natively', () => {
    expect(nativeInflate()).toBe(true);
  });

  it('[C1] a large message deflated: frames no larger than a chunk plus its flag, flagged, reassembled exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 3 * CHUNK_BYTES }), fc.integer({ min: 1, max: 200_000 }).map((n) => text(n))),
        fc.integer({ min: 64, max: 70_000 }),
        async (message, chunk) => {
          const all = [...deflatedFrames(message, chunk)];
          for (const [i, f] of all.entries()) {
            expect(f.byteLength).toBeLessThanOrEqual(chunk + 1);
            // Deflated; "more follow" on every frame but the last.
            expect(f[0]).toBe(i === all.length - 1 ? 2 : 3);
          }
          const out = await reassemble(new Reassembler(1 << 20, inflateWith), all);
          expect(out).toHaveLength(1);
          expect(Buffer.from(out[0]!).equals(Buffer.from(message))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('[C1] word-like text travels at about a third of its size, and deflated and plain messages follow each other', async () => {
    const big = text(2_000_000);
    const deflated = [...deflatedFrames(big, 64 * 1024 - 1)];
    const wire = deflated.reduce((n, f) => n + f.byteLength, 0);
    expect(wire).toBeLessThan(0.45 * big.byteLength);
    const small = Uint8Array.of(9, 8, 7);
    const r = new Reassembler(4 << 20, inflateWith);
    const got = await reassemble(r, [...frames(small), ...deflated, ...frames(small), ...deflatedFrames(small)]);
    expect(got.map((m) => m.byteLength)).toEqual([3, big.byteLength, 3, 3]);
    expect(Buffer.from(got[1]!).equals(Buffer.from(big))).toBe(true);
    // Progress counts what has been inflated so far.
    const partial = new Reassembler(4 << 20, inflateWith);
    for (const f of deflated.slice(0, Math.ceil(deflated.length / 2))) expect(partial.push(f)).toBeNull();
    // The native stream inflates in its own time: what it has done by the next task.
    await until(() => partial.pendingBytes > big.byteLength / 4);
    expect(partial.pendingBytes).toBeGreaterThan(big.byteLength / 4);
    expect(partial.pendingBytes).toBeLessThan(big.byteLength);
  });

  it('refuses a deflated message that inflates past the cap, a corrupt or cut-off stream, and frames of two kinds in one message', async () => {
    // 4 MB of zeros deflate to about 4 KB: the cap is on what it inflates to.
    const bomb = [...deflatedFrames(new Uint8Array(4 << 20), 16 * 1024)];
    expect(bomb.reduce((n, f) => n + f.byteLength, 0)).toBeLessThan(16 * 1024);
    await expect(reassemble(new Reassembler(1 << 20, inflateWith), bomb)).rejects.toThrow('message too large');
    const good = [...deflatedFrames(text(300_000), 16 * 1024)];
    const corrupt = good.map((f) => f.slice());
    corrupt[0]!.fill(0xff, 1, 40);
    await expect(reassemble(new Reassembler(1 << 20, inflateWith), corrupt)).rejects.toThrow();
    // The stream stops short but the frame says it is the last.
    const cut = good[1]!.slice();
    cut[0] = 2;
    await expect(reassemble(new Reassembler(1 << 20, inflateWith), [good[0]!, cut])).rejects.toThrow();
    // A plain frame in the middle of a deflated message, and the other way round.
    await expect(reassemble(new Reassembler(1 << 20, inflateWith), [good[0]!, Uint8Array.of(0, 1)])).rejects.toThrow('mixed frames');
    await expect(reassemble(new Reassembler(1 << 20, inflateWith), [Uint8Array.of(1, 1), good.at(-1)!])).rejects.toThrow('mixed frames');
  });
  it("[C1] inflates what fflate's streaming compressor makes of zero-heavy input (Yjs updates are), which refers into its window of zeros", async () => {
    // Seeded: about one such message in thirty made a stream a standard inflater refuses.
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let n = 0; n < 60; n++) {
      const message = new Uint8Array(1000 + Math.floor(random() * 100_000));
      for (let i = 0; i < message.byteLength; i++) message[i] = random() < 0.6 ? 0 : Math.floor(random() * 4);
      const out = await reassemble(new Reassembler(1 << 20, inflateWith), deflatedFrames(message, 16 * 1024));
      expect(Buffer.from(out[0]!).equals(Buffer.from(message))).toBe(true);
      // A page from before the dictionary compressed without one: the same bytes come out with it.
      const earlier: Uint8Array[] = [];
      new Deflate({ level: 1 }, (data) => earlier.push(data)).push(message, true);
      const frame = Buffer.concat([Uint8Array.of(2), ...earlier]);
      const fromEarlier = await reassemble(new Reassembler(1 << 20, inflateWith), [frame]);
      expect(Buffer.from(fromEarlier[0]!).equals(Buffer.from(message))).toBe(true);
    }
  });

  it('takes no frame while the message before it is still being inflated', async () => {
    const r = new Reassembler(1 << 20, inflateWith);
    const all = [...deflatedFrames(text(100_000), 16 * 1024)];
    let last: ReturnType<Reassembler['push']> = null;
    for (const f of all) last = r.push(f);
    if (inflateWith === 'native') {
      expect(last).toBeInstanceOf(Promise);
      expect(() => r.push(Uint8Array.of(0, 1))).toThrow('before the last message was inflated');
    }
    expect((await last)?.byteLength).toBe(100_000);
    expect(pushPlain(r, Uint8Array.of(0, 1))).toEqual(Uint8Array.of(1));
  });
});
