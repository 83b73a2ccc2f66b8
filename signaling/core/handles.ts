/** H1 and H7: what a handle may look like, and how a readable, hard-to-guess one is proposed. */
import { WORDS } from './words';

export const HANDLE_MIN = 4;
export const HANDLE_MAX = 32;

export type HandleCheck = { ok: true; handle: string } | { ok: false; message: string };

/** H1: trimmed, case-insensitive (stored lower-case), 4–32 letters, digits and hyphens. */
export function normalizeHandle(raw: string): HandleCheck {
  const handle = raw.trim().toLowerCase();
  if (handle.length === 0) return { ok: false, message: 'Enter a handle.' };
  if (!/^[a-z0-9-]*$/.test(handle)) {
    return { ok: false, message: 'A handle can contain only the letters a to z, digits and hyphens.' };
  }
  if (handle.length < HANDLE_MIN) {
    return { ok: false, message: `A handle needs at least ${HANDLE_MIN} characters.` };
  }
  if (handle.length > HANDLE_MAX) {
    return { ok: false, message: `A handle can have at most ${HANDLE_MAX} characters.` };
  }
  return { ok: true, handle };
}

const SUGGEST_DIGITS = 100_000;

/**
 * H7: word-word-ddddd. 256 words twice (16 bits) and five digits (16.6 bits): 32.6 bits, every part
 * drawn uniformly from the injected CSPRNG. Reads well over the phone ("amber otter 4 8 2 1 3").
 */
export function suggestHandle(randomBytes: (n: number) => Uint8Array): string {
  const bytes = randomBytes(2);
  const first = WORDS[bytes[0]!]!;
  const second = WORDS[bytes[1]!]!;
  return `${first}-${second}-${String(uniformBelow(SUGGEST_DIGITS, randomBytes)).padStart(5, '0')}`;
}

/** Entropy of a suggestion, in bits (documented and tested against H7's floor of 30). */
export const SUGGESTION_ENTROPY_BITS = 2 * Math.log2(256) + Math.log2(SUGGEST_DIGITS);

/** Uniform integer in [0, n) by rejection sampling over 32-bit draws (no modulo bias). */
export function uniformBelow(n: number, randomBytes: (n: number) => Uint8Array): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  for (;;) {
    const b = randomBytes(4);
    const v = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
    if (v < limit) return v % n;
  }
}
