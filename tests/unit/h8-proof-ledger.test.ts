/** H8's proofs of work shared by several nodes through one ledger (issue 10): one proof, one attempt. */
import { describe, expect, it } from 'vitest';
import { ProofOfWork } from '../../signaling/guards';
import { memoryProofLedger } from '../../signaling/limiters';
import { solveProof } from '../support/proof';

describe('proofs of work over one ledger', () => {
  it('[H8] a challenge from one node is good on another, once in all; the node that handed it out stops handing it out once it is spent elsewhere', async () => {
    const ledger = memoryProofLedger();
    // Few steps: the solver's work is not the subject here.
    const one = new ProofOfWork(2, ledger);
    const two = new ProofOfWork(2, ledger);
    const challenge = await one.challengeFor('203.0.113.7');
    expect(await one.challengeFor('203.0.113.7')).toEqual(challenge); // the same open one, until spent
    const proof = await solveProof(challenge);

    expect(await two.spend(proof)).toBe(true);
    expect(await two.spend(proof)).toBe(false);
    // Node one never saw it spent, but the ledger did: refused, and a new challenge from now on.
    expect(await one.spend(proof)).toBe(false);
    const next = await one.challengeFor('203.0.113.7');
    expect(next.signature).not.toBe(challenge.signature);
    expect(await one.spend(await solveProof(next))).toBe(true);
  });

  it('[H8] a proof signed with another deployment\'s secrets is refused', async () => {
    const ours = new ProofOfWork(2, memoryProofLedger());
    const theirs = new ProofOfWork(2, memoryProofLedger());
    expect(await ours.spend(await solveProof(await theirs.challengeFor('203.0.113.8')))).toBe(false);
  });
});
