/** H8 / threat model: no number of guessers on any number of addresses keeps an honest joiner out. */
import { describe, expect, it } from 'vitest';
import { expectOk, startSignaling } from '../support/signaling';
import { openSession } from '../support/flows';
import { guessingAttack } from '../support/guessing';

describe('guessing handles', () => {
  it('[H8] 40 addresses guessing, past every limit, cannot keep a person with a valid handle out', async () => {
    const h = await startSignaling(); // product limits: 5 per address, 100 in total, per minute
    const s = await openSession(h);
    const { handle } = expectOk(await s.agent.client.request('handle:suggest', { sessionId: s.sessionId }));
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle }));

    const f = await guessingAttack(h, { handle, guessers: 40, guessesEach: 4, solveProofs: true });

    expect(f.wronglyAdmitted).toBe(0);
    expect(f.honestAdmitted).toBe(true);
    // The attack did push past the service's limit: the honest party had to prove work once.
    expect(f.tried).toBeGreaterThan(100);
    expect(f.proofsAsked).toBeGreaterThan(0);
    expect(f.honestProofs).toBe(1);
    // Every attempt beyond the free ones cost a solved proof (each buys one try): attempts are counted
    // in the same step that lets them through, so none slips in beside another.
    expect(f.tried).toBeLessThanOrEqual(100 + f.proofsSolved);
    expect(await h.store.getHandle(handle, h.clock.now())).toBeNull();
  });
});
