/** The node's randomness (signaling/compose.ts): the system CSPRNG, drawn a pool at a time (issue 11). */
import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from '../../signaling/compose';

describe('pooledRandomBytes', () => {
  it('hands out the sizes asked for, each byte once, across refills and beyond the pool size', () => {
    const random = pooledRandomBytes(64);
    const drawn: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const n = [1, 2, 4, 16, 32, 48][i % 6]!;
      const bytes = random(n);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes).toHaveLength(n);
      drawn.push(bytes);
    }
    expect(random(100)).toHaveLength(100); // more than the pool: drawn apart
    // 32-byte draws (a credential's worth) never repeat, so no pool byte was handed out twice.
    const secrets = drawn.filter((b) => b.length === 32).map((b) => Buffer.from(b).toString('hex'));
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it('hands out copies: changing one changes nothing drawn later', () => {
    const random = pooledRandomBytes(64);
    const first = random(16);
    first.fill(0);
    const next = random(16);
    expect(Buffer.from(next).equals(Buffer.alloc(16))).toBe(false);
  });
});
