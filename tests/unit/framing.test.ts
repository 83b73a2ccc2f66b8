import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CHUNK_BYTES, deflatedFrames, frames, Reassembler } from '../../lib/p2p/framing';
import { prose } from '../support/prose';

/** Word-like text (what a transcript holds): deflate takes it to about a third. */
const text = (bytes: number, seed = 1) => new TextEncoder().encode(prose(bytes, seed));

/** Every frame of `frames` through one reassembler: the messages it gives back. */
function reassemble(r: Reassembler, all: Iterable<Uint8Array>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of all) {
    const whole = r.push(f);
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
          const whole = r.push(f);
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
      const whole = r.push(f);
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

  it('[C1] a large message deflated: frames no larger than a chunk plus its flag, flagged, reassembled exactly', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 3 * CHUNK_BYTES }), fc.integer({ min: 1, max: 200_000 }).map((n) => text(n))),
        fc.integer({ min: 64, max: 70_000 }),
        (message, chunk) => {
          const all = [...deflatedFrames(message, chunk)];
          for (const [i, f] of all.entries()) {
            expect(f.byteLength).toBeLessThanOrEqual(chunk + 1);
            // Deflated; "more follow" on every frame but the last.
            expect(f[0]).toBe(i === all.length - 1 ? 2 : 3);
          }
          const out = reassemble(new Reassembler(1 << 20), all);
          expect(out).toHaveLength(1);
          expect(Buffer.from(out[0]!).equals(Buffer.from(message))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('[C1] word-like text travels at about a third of its size, and deflated and plain messages follow each other', () => {
    const big = text(2_000_000);
    const deflated = [...deflatedFrames(big, 64 * 1024 - 1)];
    const wire = deflated.reduce((n, f) => n + f.byteLength, 0);
    expect(wire).toBeLessThan(0.45 * big.byteLength);
    const small = Uint8Array.of(9, 8, 7);
    const r = new Reassembler(4 << 20);
    const got = reassemble(r, [...frames(small), ...deflated, ...frames(small), ...deflatedFrames(small)]);
    expect(got.map((m) => m.byteLength)).toEqual([3, big.byteLength, 3, 3]);
    expect(Buffer.from(got[1]!).equals(Buffer.from(big))).toBe(true);
    // Progress counts what has been inflated so far.
    const partial = new Reassembler(4 << 20);
    for (const f of deflated.slice(0, Math.ceil(deflated.length / 2))) partial.push(f);
    expect(partial.pendingBytes).toBeGreaterThan(big.byteLength / 4);
    expect(partial.pendingBytes).toBeLessThan(big.byteLength);
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

  it('refuses a deflated message that inflates past the cap, a corrupt or cut-off stream, and frames of two kinds in one message', () => {
    // 4 MB of zeros deflate to about 4 KB: the cap is on what it inflates to.
    const bomb = [...deflatedFrames(new Uint8Array(4 << 20), 16 * 1024)];
    expect(bomb.reduce((n, f) => n + f.byteLength, 0)).toBeLessThan(16 * 1024);
    expect(() => reassemble(new Reassembler(1 << 20), bomb)).toThrow('message too large');
    const good = [...deflatedFrames(text(300_000), 16 * 1024)];
    const corrupt = good.map((f) => f.slice());
    corrupt[0]!.fill(0xff, 1, 40);
    expect(() => reassemble(new Reassembler(1 << 20), corrupt)).toThrow();
    // The stream stops short but the frame says it is the last.
    const cut = good[1]!.slice();
    cut[0] = 2;
    expect(() => reassemble(new Reassembler(1 << 20), [good[0]!, cut])).toThrow();
    // A plain frame in the middle of a deflated message, and the other way round.
    expect(() => reassemble(new Reassembler(1 << 20), [good[0]!, Uint8Array.of(0, 1)])).toThrow('mixed frames');
    expect(() => reassemble(new Reassembler(1 << 20), [Uint8Array.of(1, 1), good.at(-1)!])).toThrow('mixed frames');
    // Only the two flag bits are known.
    expect(() => new Reassembler(10).push(Uint8Array.of(4, 1))).toThrow('bad frame flag');
  });
});
