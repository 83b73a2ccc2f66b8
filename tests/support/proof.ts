/** Solves an H8 proof-of-work challenge in node, as the Join Us page does in the browser. */
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { Proof, ProofChallenge } from '../../lib/protocol';

export async function solveProof(challenge: ProofChallenge): Promise<Proof> {
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('proof of work: no solution found');
  return { challenge, solution };
}
