'use client';
/**
 * H8: the proof of work the Join Us page does once failed log-ins pile up (ALTCHA, altcha-lib's
 * solver with the browser's own PBKDF2). WebCrypto derives each key off the main thread, so the page
 * stays responsive; about a second on a laptop, a few on an old phone.
 */
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/web/pbkdf2';
import type { Proof, ProofChallenge } from '../protocol';

/** WebCrypto exists only in secure contexts (https, or localhost). */
export const canProveWork = () => typeof window !== 'undefined' && window.isSecureContext && !!globalThis.crypto?.subtle;

export async function proveWork(challenge: ProofChallenge): Promise<Proof | null> {
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
  return solution ? { challenge, solution } : null;
}
