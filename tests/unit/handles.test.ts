/** H1 and H7 as pure functions: normalising a typed handle, and proposing one. */
import { describe, expect, it } from 'vitest';
import {
  HANDLE_MAX,
  HANDLE_MIN,
  normalizeHandle,
  SUGGESTION_ENTROPY_BITS,
  suggestHandle,
  uniformBelow,
} from '../../signaling/core/handles';
import { WORDS } from '../../signaling/core/words';
import { ScriptedRandom, seededRandomBytes } from './helpers';

const SUGGESTION = /^([a-z]+)-([a-z]+)-(\d{5})$/;

/** Four bytes that make `uniformBelow` accept `v` (big-endian). */
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

describe('normalizeHandle', () => {
  it('[H1] trims surrounding whitespace and stores the handle lower-case', () => {
    expect(normalizeHandle('  Amber-Otter-42\t\n')).toEqual({ ok: true, handle: 'amber-otter-42' });
    expect(normalizeHandle('ABCD')).toEqual({ ok: true, handle: 'abcd' });
    expect(normalizeHandle('MiXeD-9')).toEqual({ ok: true, handle: 'mixed-9' });
  });

  it('[H1] accepts letters, digits and hyphens, including leading, trailing and repeated hyphens', () => {
    for (const h of ['abcd', '1234', '----', '-ab-', 'a--b', 'z9-z9-z9']) {
      expect(normalizeHandle(h)).toEqual({ ok: true, handle: h });
    }
  });

  it(`[H1] accepts exactly ${HANDLE_MIN} and exactly ${HANDLE_MAX} characters`, () => {
    expect(HANDLE_MIN).toBe(4);
    expect(HANDLE_MAX).toBe(32);
    expect(normalizeHandle('a'.repeat(4))).toEqual({ ok: true, handle: 'aaaa' });
    expect(normalizeHandle('b'.repeat(32))).toEqual({ ok: true, handle: 'b'.repeat(32) });
    // Length is counted after trimming.
    expect(normalizeHandle(`   ${'c'.repeat(32)}   `)).toEqual({ ok: true, handle: 'c'.repeat(32) });
    expect(normalizeHandle('  abcd  ')).toEqual({ ok: true, handle: 'abcd' });
  });

  it('[H1] refuses an empty or blank handle with "Enter a handle."', () => {
    for (const h of ['', ' ', '   \t\n ']) {
      expect(normalizeHandle(h)).toEqual({ ok: false, message: 'Enter a handle.' });
    }
  });

  it('[H1] refuses a handle shorter than 4 characters and says so', () => {
    for (const h of ['a', 'ab', 'abc', ' ab ', '-1-']) {
      expect(normalizeHandle(h)).toEqual({ ok: false, message: 'A handle needs at least 4 characters.' });
    }
  });

  it('[H1] refuses a handle longer than 32 characters and says so', () => {
    for (const h of ['a'.repeat(33), 'x'.repeat(64), `${'ab-'.repeat(11)}`]) {
      expect(h.length).toBeGreaterThan(32);
      expect(normalizeHandle(h)).toEqual({ ok: false, message: 'A handle can have at most 32 characters.' });
    }
  });

  it('[H1] refuses any character other than letters, digits and hyphens and says so', () => {
    const message = 'A handle can contain only the letters a to z, digits and hyphens.';
    for (const h of [
      'amber otter',
      'amber_otter',
      'amber.otter',
      'amber/otter',
      'amber+otter',
      'ambe\u0000r',
      'ab\tcd',
      "o'brien",
      'a@b.c',
      '<script>',
      '%61bcd',
      'café-42',
      'straße',
      'ｆｕｌｌ', // full-width Latin letters
      'abcd\u200b', // zero-width space is not trimmed
      '😀😀😀😀',
    ]) {
      expect(normalizeHandle(h), h).toEqual({ ok: false, message });
    }
  });

  it('[H1] reports the character problem before a length problem (the more useful reason)', () => {
    expect(normalizeHandle('a b')).toEqual({
      ok: false,
      message: 'A handle can contain only the letters a to z, digits and hyphens.',
    });
    expect(normalizeHandle(`${'a'.repeat(40)}!`)).toEqual({
      ok: false,
      message: 'A handle can contain only the letters a to z, digits and hyphens.',
    });
  });

  it('[H1] is idempotent: a normalised handle normalises to itself', () => {
    for (const raw of ['  Amber-Otter-42 ', 'ABCD', 'x'.repeat(32)]) {
      const once = normalizeHandle(raw);
      expect(once.ok).toBe(true);
      if (once.ok) expect(normalizeHandle(once.handle)).toEqual(once);
    }
  });
});

describe('suggestHandle', () => {
  it('[H7] has a word list of 256 distinct, short, lower-case ASCII words (one byte each)', () => {
    expect(WORDS).toHaveLength(256);
    expect(new Set(WORDS).size).toBe(256);
    for (const w of WORDS) expect(w).toMatch(/^[a-z]{2,8}$/);
  });

  it('[H7] proposes word-word-ddddd that passes H1 unchanged', () => {
    const random = seededRandomBytes('h7-format');
    for (let i = 0; i < 500; i++) {
      const s = suggestHandle(random);
      const m = SUGGESTION.exec(s);
      expect(m, s).not.toBeNull();
      expect(WORDS).toContain(m![1]);
      expect(WORDS).toContain(m![2]);
      expect(normalizeHandle(s)).toEqual({ ok: true, handle: s });
    }
  });

  it('[H7] maps its random draws to words and digits exactly (first byte, second byte, 32-bit draw mod 100000)', () => {
    const r = new ScriptedRandom();
    r.push([0, 255], u32(7));
    expect(suggestHandle(r.bytes)).toBe(`${WORDS[0]}-${WORDS[255]}-00007`);
    r.push([3, 3], u32(99_999));
    expect(suggestHandle(r.bytes)).toBe(`${WORDS[3]}-${WORDS[3]}-99999`);
    r.push([10, 20], u32(100_000 + 12_345));
    expect(suggestHandle(r.bytes)).toBe(`${WORDS[10]}-${WORDS[20]}-12345`);
    expect(r.pending).toBe(0);
    expect(r.requests).toEqual([2, 4, 2, 4, 2, 4]);
  });

  it('[H7] carries at least 30 bits of entropy (two bytes of words, five uniform digits)', () => {
    expect(SUGGESTION_ENTROPY_BITS).toBeGreaterThanOrEqual(30);
    expect(SUGGESTION_ENTROPY_BITS).toBeCloseTo(16 + Math.log2(100_000), 10);
    // The advertised entropy is only real if the format can express that many distinct handles.
    expect(Math.log2(WORDS.length * WORDS.length * 100_000)).toBeCloseTo(SUGGESTION_ENTROPY_BITS, 10);
  });

  it('[H7] draws every word position uniformly (chi-square sanity check over a seeded stream)', () => {
    const random = seededRandomBytes('h7-uniform-words');
    const n = 256 * 200;
    const first = new Map<string, number>();
    const second = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const m = SUGGESTION.exec(suggestHandle(random))!;
      first.set(m[1]!, (first.get(m[1]!) ?? 0) + 1);
      second.set(m[2]!, (second.get(m[2]!) ?? 0) + 1);
    }
    for (const counts of [first, second]) {
      expect(counts.size).toBe(256);
      const expected = n / 256;
      let chi2 = 0;
      for (const w of WORDS) chi2 += ((counts.get(w) ?? 0) - expected) ** 2 / expected;
      // 255 degrees of freedom: mean 255, sd ~22.6. 360 is beyond p = 0.0001; a biased mapping
      // (e.g. only half the words reachable) lands in the tens of thousands.
      expect(chi2).toBeLessThan(360);
    }
  });

  it('[H7] draws the digits uniformly over 00000–99999', () => {
    const random = seededRandomBytes('h7-uniform-digits');
    const n = 50_000;
    const leading = new Array<number>(10).fill(0);
    const trailing = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const digits = SUGGESTION.exec(suggestHandle(random))![3]!;
      leading[Number(digits[0])]!++;
      trailing[Number(digits[4])]!++;
      sum += Number(digits);
    }
    for (const counts of [leading, trailing]) {
      let chi2 = 0;
      for (const c of counts) chi2 += (c - n / 10) ** 2 / (n / 10);
      expect(chi2).toBeLessThan(40); // 9 d.f.: p < 0.00001 above ~37
    }
    // Mean of a uniform 0..99999 is 49999.5; the standard error here is ~129.
    expect(Math.abs(sum / n - 49_999.5)).toBeLessThan(1_000);
  });
});

describe('uniformBelow', () => {
  it('[H7] returns values in [0, n) only', () => {
    const random = seededRandomBytes('uniform-range');
    for (const n of [1, 2, 3, 10, 255, 100_000, 2 ** 31]) {
      for (let i = 0; i < 200; i++) {
        const v = uniformBelow(n, random);
        expect(Number.isInteger(v)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThan(n);
      }
    }
  });

  it('[H7] rejects draws in the biased tail instead of folding them with a modulo', () => {
    // For n = 100000 the acceptance limit is floor(2^32 / n) * n = 4_294_900_000.
    const r = new ScriptedRandom();
    r.push(u32(0xffff_ffff), u32(4_294_900_000), u32(4_294_899_999));
    expect(uniformBelow(100_000, r.bytes)).toBe(99_999);
    expect(r.requests).toEqual([4, 4, 4]);
  });

  it('[H7] reads the 32-bit draw big-endian and unsigned', () => {
    const r = new ScriptedRandom();
    r.push([0x80, 0, 0, 1]); // 2^31 + 1: must not go negative through a signed shift
    expect(uniformBelow(2 ** 32, r.bytes)).toBe(2 ** 31 + 1);
    r.push([0x01, 0x02, 0x03, 0x04]);
    expect(uniformBelow(2 ** 32, r.bytes)).toBe(0x01020304);
  });

  it('[H7] is unbiased for a small modulus over the full byte range', () => {
    const random = seededRandomBytes('uniform-small');
    const counts = [0, 0, 0];
    const n = 30_000;
    for (let i = 0; i < n; i++) counts[uniformBelow(3, random)]!++;
    let chi2 = 0;
    for (const c of counts) chi2 += (c - n / 3) ** 2 / (n / 3);
    expect(chi2).toBeLessThan(20);
  });
});
