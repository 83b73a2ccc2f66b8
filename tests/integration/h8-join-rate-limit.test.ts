/**
 * H8 over real sockets: one answer for every unusable handle; past the failure limits (per address,
 * in total) every attempt costs a proof of work, and nothing else stops a person with a valid handle.
 */
import { describe, expect, it } from 'vitest';
import { Messages, type ProtocolError } from '../../lib/protocol';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';
import { solveProof } from '../support/proof';

describe('unusable handles and the join rate limit', () => {
  it('[H8] unknown, expired, used, session-ended and malformed handles all get the same answer', async () => {
    const h = await startSignaling({ handleTtlMs: 60_000, joinRateLimits: { perClientFailures: 100 } });
    const s = await openSession(h, { agent: 'alice' });
    const ending = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    const probe = await h.client({ name: 'prober' });
    const refuse = async (handle: string): Promise<Omit<ProtocolError, 'attemptsLeft'>> => {
      const { attemptsLeft: _left, ...error } = expectRefused(await probe.request('handle:login', { name: 'P', handle }), 'handle_unusable');
      return error;
    };

    // used
    await inviteGuest(h, s, { handle: 'used-handle' });
    // expired (swept and not yet swept)
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'expired-one' }));
    h.clock.advance(60_000);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'expired-two' }));
    h.clock.advance(60_000);
    await h.signaling.core.sweep();
    // session ended while the handle was reserved
    expectOk(await ending.agent.client.request('handle:reserve', { sessionId: ending.sessionId, handle: 'ended-one' }));
    expectOk(await ending.agent.client.request('session:end', { sessionId: ending.sessionId }));

    const expected = { reason: 'handle_unusable', message: Messages.handleUnusable };
    for (const handle of ['never-reserved', 'used-handle', 'expired-one', 'expired-two', 'ended-one', 'no!', 'x', '']) {
      expect(await refuse(handle), handle).toEqual(expected);
    }
  });

  it('[H8] after N failures from one address each attempt needs a proof of work, even with a correct handle', async () => {
    const h = await startSignaling(); // product limits: 5 failures per address per minute
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-handle' }));
    const guest = await h.client({ name: 'guest' });

    const left: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const error = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: `wrong-handle-${i}` }), 'handle_unusable');
      left.push(error.attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);

    const asked = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: 'wrong-handle-9' }), 'proof_required');
    expect(asked.message).toContain('from your connection (more than 5 a minute)');
    expect(asked.message).toContain('about a second');
    expect(asked.challenge?.parameters.algorithm).toBe('PBKDF2/SHA-256');

    // A correct handle without a proof is not tried, and so not consumed.
    expectRefused(await guest.request('handle:login', { name: 'Gus', handle: 'right-handle' }), 'proof_required');
    expect(await h.store.getHandle('right-handle', h.clock.now())).toMatchObject({ sessionId: s.sessionId });
    expect((await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest')).toEqual([]);

    // A new connection from the same address is the same client address.
    const again = await h.client({ name: 'same address, new socket' });
    const reused = expectRefused(await again.request('handle:login', { name: 'Gus', handle: 'right-handle' }), 'proof_required');
    // One open challenge per address until it is spent (making one costs the server a key derivation).
    expect(reused.challenge).toEqual(asked.challenge);

    // With a solved challenge the handle is tried, and a wrong one is answered as before.
    const wrong = expectRefused(
      await guest.request('handle:login', { name: 'Gus', handle: 'wrong-handle-10', proof: await solveProof(asked.challenge!) }),
      'handle_unusable',
    );
    expect(wrong.message).toBe(Messages.handleUnusable);
    expect(wrong.attemptsLeft).toBe(0);

    // Another address needs no proof; this one gets in with a proof and the right handle.
    const elsewhere = await h.client({ name: 'other address', localAddress: '127.0.0.2' });
    expectRefused(await elsewhere.request('handle:login', { name: 'Ada', handle: 'wrong-handle-11' }), 'handle_unusable');
    const fresh = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: 'right-handle' }), 'proof_required');
    expect(fresh.challenge!.signature).not.toBe(asked.challenge!.signature); // the first one is spent
    const ok = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'right-handle', proof: await solveProof(fresh.challenge!) }));
    expect(ok.sessionId).toBe(s.sessionId);
  });

  it('[H8] a proof buys one attempt: spent, forged, tampered or foreign proofs are refused', async () => {
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 1 } });
    const other = await startSignaling({ joinRateLimits: { perClientFailures: 1 } });
    const guest = await h.client();
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'handle_unusable');
    const asked = expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
    const proof = await solveProof(asked.challenge!);
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof }), 'handle_unusable');

    const spent = expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof }), 'proof_required');
    expect(spent.message).toMatch(/did not pass or has expired/);
    const fresh = await solveProof(spent.challenge!);
    const forged = { ...fresh, solution: { ...fresh.solution, derivedKey: '0'.repeat(64) } };
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof: forged }), 'proof_required');
    const cheaper = { ...fresh, challenge: { ...fresh.challenge, parameters: { ...fresh.challenge.parameters, keyPrefix: '00' } } };
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof: cheaper }), 'proof_required');
    // A challenge from another server (another secret) is not a proof here.
    const foreignClient = await other.client();
    expectRefused(await foreignClient.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'handle_unusable');
    const foreign = expectRefused(await foreignClient.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
    expectRefused(
      await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof: await solveProof(foreign.challenge!) }),
      'proof_required',
    );
    // Malformed proofs are refused at the edge.
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'x', proof: { nope: 1 } } as never), 'invalid_request');
    // The untouched fresh proof still works once.
    expectRefused(await guest.request('handle:login', { name: 'G', handle: 'wrong-handle', proof: fresh }), 'handle_unusable');
  });

  it('[H8] successful log-ins do not count as failures', async () => {
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 2 } });
    const s = await openSession(h);
    for (let i = 0; i < 4; i++) {
      expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: `good-${i}-handle` }));
      expectOk(await (await h.client()).request('handle:login', { name: `G${i}`, handle: `good-${i}-handle` }));
    }
    const error = expectRefused(await (await h.client()).request('handle:login', { name: 'X', handle: 'bad-handle' }), 'handle_unusable');
    expect(error.attemptsLeft).toBe(1);
  });

  it('[H8] failures from all addresses together switch on proofs for everyone, and the message says so', async () => {
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 100, totalFailures: 3 } });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-handle' }));
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const c = await h.client({ localAddress: address });
      expectRefused(await c.request('handle:login', { name: 'P', handle: 'wrong-handle' }), 'handle_unusable');
    }
    const fresh = await h.client({ localAddress: '127.0.0.5' });
    const error = expectRefused(await fresh.request('handle:login', { name: 'P', handle: 'right-handle' }), 'proof_required');
    expect(error.message).toMatch(/on this service right now \(more than 3 a minute\)/);
    expect(await h.store.getHandle('right-handle', h.clock.now())).not.toBeNull();
    const ok = expectOk(await fresh.request('handle:login', { name: 'P', handle: 'right-handle', proof: await solveProof(error.challenge!) }));
    expect(ok.sessionId).toBe(s.sessionId);
  });
});
