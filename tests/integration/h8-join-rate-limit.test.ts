/** H8 over real sockets: one answer for every unusable handle; failures limited per address and in total. */
import { describe, expect, it } from 'vitest';
import { Messages, type ProtocolError } from '../../lib/protocol';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

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

  it('[H8] after N failures from one address the next attempt waits, even with a correct handle', async () => {
    const h = await startSignaling(); // product defaults: 5 failures per address per minute
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-handle' }));
    const guest = await h.client({ name: 'guest' });

    const left: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const error = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: `wrong-handle-${i}` }), 'handle_unusable');
      left.push(error.attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);

    const blocked = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: 'wrong-handle-9' }), 'rate_limited');
    expect(blocked.retryAfterMs).toBeGreaterThan(0);
    expect(blocked.retryAfterMs).toBeLessThanOrEqual(60_000);
    const seconds = Math.ceil(blocked.retryAfterMs! / 1000);
    expect(blocked.message).toContain(`Wait ${seconds} second`);
    expect(blocked.message).toContain('5');

    // A correct handle is refused too while blocked, and is not consumed by the refused attempt.
    const right = expectRefused(await guest.request('handle:login', { name: 'Gus', handle: 'right-handle' }), 'rate_limited');
    expect(right.retryAfterMs).toBeGreaterThan(0);
    expect(await h.store.getHandle('right-handle', h.clock.now())).toMatchObject({ sessionId: s.sessionId });
    expect((await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest')).toEqual([]);

    // A new connection from the same address is the same client address.
    const again = await h.client({ name: 'same address, new socket' });
    expectRefused(await again.request('handle:login', { name: 'Gus', handle: 'right-handle' }), 'rate_limited');

    // Another address is not blocked by this one and gets in with the right handle.
    const elsewhere = await h.client({ name: 'other address', localAddress: '127.0.0.2' });
    const ok = expectOk(await elsewhere.request('handle:login', { name: 'Gus', handle: 'right-handle' }));
    expect(ok.sessionId).toBe(s.sessionId);
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

  it('[H8] failures from all addresses together are limited too, and the message says so', async () => {
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 100, totalFailures: 3 } });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-handle' }));
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const c = await h.client({ localAddress: address });
      expectRefused(await c.request('handle:login', { name: 'P', handle: 'wrong-handle' }), 'handle_unusable');
    }
    const fresh = await h.client({ localAddress: '127.0.0.5' });
    const error = expectRefused(await fresh.request('handle:login', { name: 'P', handle: 'right-handle' }), 'rate_limited');
    expect(error.message).toMatch(/on this service right now/);
    expect(error.message).toContain('3');
    expect(error.message).toMatch(/Wait \d+ seconds?/);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(await h.store.getHandle('right-handle', h.clock.now())).not.toBeNull();
  });
});
