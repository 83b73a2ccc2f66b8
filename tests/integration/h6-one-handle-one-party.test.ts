/** H6 over real sockets: of any number of concurrent log-ins with one handle, exactly one succeeds. */
import { describe, expect, it } from 'vitest';
import { Messages } from '../../lib/protocol';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { attach, openSession } from '../support/flows';

const PARTIES = 50;

describe('one handle, one party', () => {
  it(`[H6] of ${PARTIES} concurrent socket log-ins with one handle, exactly one is admitted`, async () => {
    // Limits raised so that the atomic consume, not the H8 limiter, is what stops the other 49.
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 10_000, totalFailures: 10_000 } });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'only-one-77' }));

    const clients = await Promise.all(Array.from({ length: PARTIES }, (_, i) => h.client({ name: `party ${i}` })));
    const consumed = s.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    const acks = await Promise.all(
      clients.map((c, i) => c.request('handle:login', { name: `Party ${i}`, handle: i % 2 ? 'ONLY-ONE-77' : 'only-one-77' })),
    );

    const winners = acks.flatMap((a, i) => (a.ok ? [{ ack: a, client: clients[i]! }] : []));
    expect(winners).toHaveLength(1);
    for (const a of acks) {
      if (!a.ok) expect(expectRefused(a, 'handle_unusable').message).toBe(Messages.handleUnusable);
    }
    await consumed;

    // The store agrees: the handle is gone and exactly one guest exists, and it can attach.
    expect(await h.store.getHandle('only-one-77', h.clock.now())).toBeNull();
    const guests = (await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest');
    expect(guests).toHaveLength(1);
    const winner = winners[0]!;
    expect(winner.ack.ok && winner.ack.sessionId).toBe(s.sessionId);
    const guest = await attach(winner.client, winner.ack.ok ? winner.ack.credential : '');
    expect(guest.participantId).toBe(guests[0]!.participantId);
  });

  it('[H6] concurrent log-ins with several handles admit exactly one party per handle', async () => {
    const h = await startSignaling({ joinRateLimits: { perClientFailures: 10_000, totalFailures: 10_000 } });
    const s = await openSession(h);
    const handles = ['first-seat', 'second-seat', 'third-seat'];
    for (const handle of handles) expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle }));

    const clients = await Promise.all(Array.from({ length: 30 }, (_, i) => h.client({ name: `party ${i}` })));
    const acks = await Promise.all(clients.map((c, i) => c.request('handle:login', { name: `P${i}`, handle: handles[i % 3]! })));
    expect(acks.filter((a) => a.ok)).toHaveLength(3);
    const credentials = new Set(acks.flatMap((a) => (a.ok ? [a.credential] : [])));
    expect(credentials.size).toBe(3);
    expect((await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest')).toHaveLength(3);
  });
});
