/** S5 over real sockets: a joined party leaves or is removed; the session goes on without it. */
import { describe, expect, it } from 'vitest';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

const offer = { type: 'offer', sdp: 'v=0' };

describe('joined parties leave and are removed', () => {
  it('[S5] a joined party leaving does not end the session', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-in' });

    const agentSees = s.agent.client.waitFor('peer:left', (p) => p.peerId === guest.peerId);
    const customerSees = s.customer.client.waitFor('peer:left', (p) => p.peerId === guest.peerId);
    expectOk(await guest.client.request('session:leave', { sessionId: s.sessionId }));
    expect(await agentSees).toEqual({ sessionId: s.sessionId, peerId: guest.peerId, participantId: guest.participantId });
    await customerSees;

    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
    expect((await h.store.getParticipant(guest.participantId))?.state).toBe('left');
    for (const c of [s.agent.client, s.customer.client, guest.client]) {
      await c.roundTrip();
      expect(c.received('session:ended'), c.name).toEqual([]);
      // Leaving is not being removed: nobody, the leaver least, is told "removed".
      expect(c.received('participant:removed'), c.name).toEqual([]);
    }
    // Agent and customer still talk.
    const signal = s.customer.client.waitFor('signal:recv');
    expectOk(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }));
    await signal;
    // The guest is out: no signals either way, and its credential no longer admits it.
    expectRefused(await guest.client.request('signal:send', { sessionId: s.sessionId, to: s.agent.peerId, data: offer }), 'forbidden');
    expectRefused(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: guest.peerId, data: offer }), 'not_found');
    const reattach = expectRefused(await (await h.client()).request('session:attach', { credential: guest.credential }), 'left');
    expect(reattach.message).toMatch(/left/);
  });

  it('[S5] the agent and the customer cannot leave (they end the session instead)', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectRefused(await s.agent.client.request('session:leave', { sessionId: s.sessionId }), 'forbidden');
    expectRefused(await s.customer.client.request('session:leave', { sessionId: s.sessionId }), 'forbidden');
    expectRefused(await (await h.client()).request('session:leave', { sessionId: s.sessionId }), 'forbidden');
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
  });

  it('[S5] the agent removes a joined party: it is told, the others stop talking to it, its credential is revoked', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const removed = await inviteGuest(h, s, { handle: 'first-guest', name: 'Removed' });
    const stays = await inviteGuest(h, s, { handle: 'second-guest', name: 'Stays' });

    const removedTold = removed.client.waitFor('participant:removed');
    const othersTold = [s.agent.client, s.customer.client, stays.client].map((c) =>
      c.waitFor('peer:left', (p) => p.peerId === removed.peerId),
    );
    expectOk(await s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: removed.participantId }));
    expect(await removedTold).toEqual({ sessionId: s.sessionId, participantId: removed.participantId });
    for (const left of await Promise.all(othersTold)) {
      expect(left).toEqual({ sessionId: s.sessionId, peerId: removed.peerId, participantId: removed.participantId });
    }

    // Its credential is refused with the reason, on a new connection and on its own.
    expectRefused(await (await h.client()).request('session:attach', { credential: removed.credential }), 'removed');
    expectRefused(await removed.client.request('session:attach', { credential: removed.credential }), 'removed');
    // No signals to or from it.
    expectRefused(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: removed.peerId, data: offer }), 'not_found');
    expectRefused(await removed.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'forbidden');
    await s.customer.client.roundTrip();
    expect(s.customer.client.received('signal:recv')).toEqual([]);
    // It is no longer in the room: later events of the session do not reach it.
    const staysSignal = stays.client.waitFor('signal:recv');
    expectOk(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: stays.peerId, data: offer }));
    await staysSignal;
    const ended = stays.client.waitFor('session:ended');
    expectOk(await s.agent.client.request('session:end', { sessionId: s.sessionId }));
    await ended;
    await removed.client.roundTrip();
    expect(removed.client.received('session:ended')).toEqual([]);
    expect(removed.client.received('peer:left').map((p) => p.peerId)).not.toContain(stays.peerId);
  });

  it('[S5] only a joined party can be removed, only by the agent, and only once', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const g1 = await inviteGuest(h, s, { handle: 'first-guest' });
    const g2 = await inviteGuest(h, s, { handle: 'second-guest' });
    const remove = (participantId: string) => s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId });

    expectRefused(await remove(s.customer.participantId), 'not_found');
    expectRefused(await remove(s.agent.participantId), 'not_found');
    expectRefused(await g1.client.request('participant:remove', { sessionId: s.sessionId, participantId: g2.participantId }), 'forbidden');
    expectRefused(await s.customer.client.request('participant:remove', { sessionId: s.sessionId, participantId: g2.participantId }), 'forbidden');
    expectOk(await remove(g2.participantId));
    expectRefused(await remove(g2.participantId), 'not_found');

    // An agent of another session cannot remove parties of this one.
    const other = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    expectRefused(await other.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: g1.participantId }), 'forbidden');
    expect((await h.store.getParticipant(g1.participantId))?.state).toBe('active');
  });

  it('[S5] a party that left cannot be "removed", and a removed party cannot turn it into leaving', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const leaver = await inviteGuest(h, s, { handle: 'leaver-one' });
    const removed = await inviteGuest(h, s, { handle: 'removed-one' });
    expectOk(await leaver.client.request('session:leave', { sessionId: s.sessionId }));
    expectRefused(await s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: leaver.participantId }), 'not_found');

    expectOk(await s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: removed.participantId }));
    const leave = await removed.client.request('session:leave', { sessionId: s.sessionId });
    expect(leave.ok).toBe(false);
    expect((await h.store.getParticipant(removed.participantId))?.state).toBe('removed');
    expectRefused(await (await h.client()).request('session:attach', { credential: removed.credential }), 'removed');
  });
});
