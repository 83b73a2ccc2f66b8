/** S6 over real sockets: one agent, several sessions. */
import { describe, expect, it } from 'vitest';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { attach, openSession, signInAgent } from '../support/flows';

const offer = { type: 'offer', sdp: 'v=0' };

describe('an agent with several sessions', () => {
  it('[S6] an agent accepts two sessions and agent:resume returns both with fresh credentials', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h, 'alice');
    const listed = alice.client.waitFor('agent:sessions', (p) => p.sessions.length === 2);
    const first = await openSession(h, { agent: alice, customerName: 'Ann', topic: 'Refund' });
    const second = await openSession(h, { agent: alice, customerName: 'Ben', topic: 'Delivery' });
    expect(first.sessionId).not.toBe(second.sessionId);
    const list = (await listed).sessions;
    expect(list.map((x) => x.sessionId)).toEqual([first.sessionId, second.sessionId]);
    expect(list.every((x) => !('credential' in x))).toBe(true);

    // A reloaded console resumes with its token.
    const console2 = await h.client({ name: 'console, reloaded' });
    const resumed = expectOk(await console2.request('agent:resume', { token: alice.token }));
    expect(resumed.name).toBe('alice');
    expect(resumed.sessions.map((x) => [x.sessionId, x.customerName, x.topic])).toEqual([
      [first.sessionId, 'Ann', 'Refund'],
      [second.sessionId, 'Ben', 'Delivery'],
    ]);
    const [c1, c2] = resumed.sessions.map((x) => x.credential);
    expect(c1).not.toBe(first.summary.credential);
    expect(c2).not.toBe(second.summary.credential);

    // Each credential admits to its own session only, as the agent.
    const a1 = await attach(console2, c1!);
    const a2 = await attach(console2, c2!);
    expect(a1.attach).toMatchObject({ sessionId: first.sessionId, role: 'agent', participantId: first.agent.participantId });
    expect(a2.attach).toMatchObject({ sessionId: second.sessionId, role: 'agent', participantId: second.agent.participantId });

    // One socket in two rooms: signals stay in their session.
    const inFirst = first.customer.client.waitFor('signal:recv');
    expectOk(await console2.request('signal:send', { sessionId: first.sessionId, to: first.customer.peerId, data: offer }));
    expect((await inFirst).from).toBe(a1.peerId);
    expectRefused(await console2.request('signal:send', { sessionId: first.sessionId, to: second.customer.peerId, data: offer }), 'not_found');
    expectRefused(await first.customer.client.request('signal:send', { sessionId: first.sessionId, to: a2.peerId, data: offer }), 'not_found');
    await second.customer.client.roundTrip();
    expect(second.customer.client.received('signal:recv')).toEqual([]);

    // A fresh sign-in sees them too.
    const again = expectOk(await (await h.client()).request('agent:signIn', { username: 'alice', password: 'alice-password' }));
    expect(again.sessions.map((x) => x.sessionId)).toEqual([first.sessionId, second.sessionId]);
    // Another agent does not.
    const bob = expectOk(await (await h.client()).request('agent:signIn', { username: 'bob', password: 'bob-password' }));
    expect(bob.sessions).toEqual([]);
  });

  it('[S6] ending one session leaves the agent\'s other session running', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h, 'alice');
    const first = await openSession(h, { agent: alice, customerName: 'Ann' });
    const second = await openSession(h, { agent: alice, customerName: 'Ben' });
    const one = alice.client.waitFor('agent:sessions', (p) => p.sessions.length === 1);
    const ended = first.customer.client.waitFor('session:ended');
    expectOk(await alice.client.request('session:end', { sessionId: first.sessionId }));
    await ended;
    expect((await one).sessions.map((x) => x.sessionId)).toEqual([second.sessionId]);

    const signal = second.customer.client.waitFor('signal:recv');
    expectOk(await alice.client.request('signal:send', { sessionId: second.sessionId, to: second.customer.peerId, data: offer }));
    await signal;
    await second.customer.client.roundTrip();
    expect(second.customer.client.received('session:ended')).toEqual([]);
    expectOk(await alice.client.request('handle:reserve', { sessionId: second.sessionId, handle: 'still-going' }));
  });
});
