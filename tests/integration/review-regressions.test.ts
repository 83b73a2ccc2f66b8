/** Regressions from review: waiting customers held by any connection, agents switching accounts. */
import { describe, expect, it } from 'vitest';
import { expectOk, startSignaling } from '../support/signaling';
import { openSession, requestHelp } from '../support/flows';

describe('review regressions', () => {
  it('[S1][S3] a waiting customer who reconnects keeps the place even when the old connection is noticed gone later', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const customer = await requestHelp(h, 'Rita');
    const again = await h.client({ name: 'customer again' });
    expectOk(await again.request('customer:resume', { requestToken: customer.requestToken }));
    // The old connection's disconnect is handled after the resume.
    customer.client.close();
    await again.roundTrip();
    await h.signaling.core.sweep();
    h.clock.advance(60_000);
    await h.signaling.core.sweep();
    expect((await h.store.listQueue()).map((r) => r.name)).toEqual(['Rita']);
    // Once the last holder goes, the grace period applies as before.
    again.close();
    await expect.poll(async () => (await h.store.listQueue())[0]?.offlineSince ?? null).not.toBeNull();
    h.clock.advance(30_000);
    await h.signaling.core.sweep();
    expect(await h.store.listQueue()).toEqual([]);
  });

  it('[S1] a connection that resumes another request no longer holds its own', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const first = await requestHelp(h, 'First');
    const second = await requestHelp(h, 'Second');
    expectOk(await first.client.request('customer:resume', { requestToken: second.requestToken }));
    // Nobody holds "First" any more: it is offline and goes after the grace period.
    await expect.poll(async () => (await h.store.listQueue()).find((r) => r.name === 'First')?.offlineSince ?? null).not.toBeNull();
    h.clock.advance(30_000);
    await h.signaling.core.sweep();
    expect((await h.store.listQueue()).map((r) => r.name)).toEqual(['Second']);
  });

  it('[S6] signing in as another agent on the same connection stops the first agent\'s session updates', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const client = s.agent.client;
    expectOk(await client.request('agent:signIn', { username: 'bob', password: 'bob-password' }));
    const before = client.received('agent:sessions').length;
    expectOk(await s.agent.client.request('session:end', { sessionId: s.sessionId }));
    await client.roundTrip();
    expect(client.received('agent:sessions').length).toBe(before);
  });
});
