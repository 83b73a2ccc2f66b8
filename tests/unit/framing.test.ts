import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CHUNK_BYTES, frames, Reassembler } from '../../lib/p2p/framing';

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
});
