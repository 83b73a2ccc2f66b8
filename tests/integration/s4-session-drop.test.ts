/** S4 (and H4, S3) over real sockets: how a session ends, and how a brief absence does not end it. */
import { describe, expect, it } from 'vitest';
import { eventually, expectOk, expectRefused, startSignaling, type SignalingHarness } from '../support/signaling';
import { attach, inviteGuest, openSession } from '../support/flows';

const offer = { type: 'offer', sdp: 'v=0' };

/** S3: a peer whose connection went is kept, away, for the grace period. */
const away = (h: SignalingHarness, peerId: string) =>
  eventually(async () => (await h.store.getPeer(peerId))?.connectionId === null, `peer ${peerId} is away`);

describe('a session drops', () => {
  it('[S4][H4] the agent ends it: everyone is told, its handles are free at once, its credentials are revoked', async () => {
    const h = await startSignaling();
    const s = await openSession(h, { agent: 'alice' });
    const guest = await inviteGuest(h, s, { handle: 'guest-in' });
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'still-reserved' }));
    const other = await openSession(h, { agent: 'bob', customerName: 'Dora' });

    const told = [s.agent.client, s.customer.client, guest.client].map((c) => c.waitFor('session:ended'));
    const sessionsGone = s.agent.client.waitFor('agent:sessions', (p) => p.sessions.length === 0);
    expectOk(await s.agent.client.request('session:end', { sessionId: s.sessionId }));
    for (const ended of await Promise.all(told)) expect(ended).toEqual({ sessionId: s.sessionId, reason: 'ended_by_agent' });
    await sessionsGone;

    // [H4] Free at once, without a sweep: another agent's session reserves it.
    expectOk(await other.agent.client.request('handle:reserve', { sessionId: other.sessionId, handle: 'still-reserved' }));
    expect(await h.store.listSessionHandles(s.sessionId, h.clock.now())).toEqual([]);

    // Every credential of it is revoked, on any socket.
    for (const credential of [s.summary.credential, s.customer.requestToken, guest.credential]) {
      expectRefused(await (await h.client()).request('session:attach', { credential }), 'session_ended');
    }
    // Its room is closed: no signals, no handles, no second end.
    expectRefused(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'forbidden');
    expectRefused(await s.customer.client.request('signal:send', { sessionId: s.sessionId, to: guest.peerId, data: offer }), 'forbidden');
    expectRefused(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'after-end' }), 'session_ended');
    expectRefused(await s.agent.client.request('session:end', { sessionId: s.sessionId }), 'session_ended');
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'ended_by_agent' });
    expect(await h.store.listPeers(s.sessionId)).toEqual([]);

    // The other session is untouched.
    const stillThere = other.customer.client.waitFor('signal:recv');
    expectOk(await other.agent.client.request('signal:send', { sessionId: other.sessionId, to: other.customer.peerId, data: offer }));
    await stillThere;
    await other.agent.client.roundTrip();
    expect(other.agent.client.received('session:ended')).toEqual([]);
  });

  it('[S4] the customer ends it; a guest cannot', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-in' });
    expect(expectRefused(await guest.client.request('session:end', { sessionId: s.sessionId }), 'forbidden').message).toMatch(/Leave/);
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');

    const agentTold = s.agent.client.waitFor('session:ended');
    const guestTold = guest.client.waitFor('session:ended');
    expectOk(await s.customer.client.request('session:end', { sessionId: s.sessionId }));
    expect((await agentTold).reason).toBe('ended_by_customer');
    expect((await guestTold).reason).toBe('ended_by_customer');
  });

  it('[S4] the session drops when the customer stays away longer than graceMs', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-in' });
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'unused-one' }));

    s.customer.client.close();
    await away(h, s.customer.peerId);
    await eventually(async () => (await h.store.getSession(s.sessionId))?.customerOfflineSince !== null, 'the customer is offline');

    h.clock.advance(29_999);
    await h.signaling.core.sweep();
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
    await s.agent.client.roundTrip();
    expect(s.agent.client.received('session:ended')).toEqual([]);
    // Away is not gone: the others keep their data channels to it until the grace period is over.
    expect(s.agent.client.received('peer:left')).toEqual([]);

    h.clock.advance(1);
    const agentTold = s.agent.client.waitFor('session:ended');
    const guestTold = guest.client.waitFor('session:ended');
    await h.signaling.core.sweep();
    expect(await agentTold).toEqual({ sessionId: s.sessionId, reason: 'customer_disconnected' });
    expect((await guestTold).reason).toBe('customer_disconnected');
    expect(await h.store.getHandle('unused-one', h.clock.now())).toBeNull();
    expectRefused(await (await h.client()).request('session:attach', { credential: s.customer.requestToken }), 'session_ended');
  });

  it('[S4] the session drops when the agent stays away longer than graceMs', async () => {
    const h = await startSignaling({ graceMs: 10_000 });
    const s = await openSession(h);
    s.agent.client.close();
    await eventually(async () => (await h.store.getSession(s.sessionId))?.agentOfflineSince !== null, 'the agent is offline');
    h.clock.advance(10_000);
    const told = s.customer.client.waitFor('session:ended');
    await h.signaling.core.sweep();
    expect(await told).toEqual({ sessionId: s.sessionId, reason: 'agent_disconnected' });
  });

  it('[S4] on the wall clock, the server\'s own sweeper drops the session after graceMs', async () => {
    const h = await startSignaling({ clock: 'system', graceMs: 150, sweepIntervalMs: 20 });
    const s = await openSession(h);
    const told = s.agent.client.waitFor('session:ended');
    const since = Date.now();
    s.customer.client.close();
    expect(await told).toEqual({ sessionId: s.sessionId, reason: 'customer_disconnected' });
    expect(Date.now() - since).toBeGreaterThanOrEqual(150);
  });

  it('[S4] a guest going away does not start the grace clock', async () => {
    const h = await startSignaling({ graceMs: 10_000 });
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-in' });
    guest.client.close();
    await away(h, guest.peerId);
    // Past the grace period the guest's peer is retired (everyone is told), the session goes on.
    const left = s.agent.client.waitFor('peer:left', (p) => p.peerId === guest.peerId);
    h.clock.advance(60_000);
    await h.signaling.core.sweep();
    await left;
    const rec = await h.store.getSession(s.sessionId);
    expect(rec?.state, JSON.stringify({ rec, agent: s.agent.client.receivedEvents(), cust: s.customer.client.receivedEvents() })).toBe('active');
    // …and it can come back with its credential.
    const back = await attach(await h.client(), guest.credential);
    expect(back.participantId).toBe(guest.participantId);
  });

  it('[S3] a customer that reconnects before graceMs keeps the session, as the same participant', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const s = await openSession(h);
    s.customer.client.close();
    await away(h, s.customer.peerId);
    await eventually(async () => (await h.store.getSession(s.sessionId))?.customerOfflineSince !== null, 'the customer is offline');

    h.clock.advance(29_999);
    // A reload: a new page, a new peer id; the old one, away, is retired at once.
    const client = await h.client({ name: 'customer, reloaded' });
    const joined = s.agent.client.waitFor('peer:joined');
    const oldLeft = s.agent.client.waitFor('peer:left', (p) => p.peerId === s.customer.peerId);
    const back = await attach(client, s.customer.requestToken);
    expect(back.participantId).toBe(s.customer.participantId);
    expect(back.peerId).not.toBe(s.customer.peerId);
    expect(back.attach.peers).toEqual([{ peerId: s.agent.peerId, participantId: s.agent.participantId }]);
    expect((await joined).peerId).toBe(back.peerId);
    await oldLeft;

    h.clock.advance(10 * 60_000);
    await h.signaling.core.sweep();
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
    await s.agent.client.roundTrip();
    expect(s.agent.client.received('session:ended')).toEqual([]);
    const signal = s.agent.client.waitFor('signal:recv');
    expectOk(await client.request('signal:send', { sessionId: s.sessionId, to: s.agent.peerId, data: offer }));
    expect((await signal).from).toBe(back.peerId);
  });

  it('[S3] a customer whose socket drops takes its peer back on reconnecting: same peer id, nobody told it left', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const s = await openSession(h);
    s.customer.client.close();
    await away(h, s.customer.peerId);
    // Signals for it meanwhile are refused as away, so the sender keeps them.
    expectRefused(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'peer_away');
    h.clock.advance(10_000);
    const client = await h.client({ name: 'customer, reconnected' });
    const joined = s.agent.client.waitFor('peer:joined');
    const back = expectOk(await client.request('session:attach', { credential: s.customer.requestToken, peerId: s.customer.peerId }));
    expect(back).toMatchObject({ peerId: s.customer.peerId, resumed: true });
    expect((await joined).peerId).toBe(s.customer.peerId);
    expect((await h.store.getSession(s.sessionId))?.customerOfflineSince).toBeNull();
    const signal = client.waitFor('signal:recv');
    expectOk(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }));
    expect((await signal).from).toBe(s.agent.peerId);
    await s.agent.client.roundTrip();
    expect(s.agent.client.received('peer:left')).toEqual([]);
  });

  it('[S3] an agent that reloads resumes with its token and re-attaches before graceMs', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'kept-handle' }));
    s.agent.client.close();
    await eventually(async () => (await h.store.getSession(s.sessionId))?.agentOfflineSince !== null, 'the agent is offline');
    h.clock.advance(20_000);

    const console2 = await h.client({ name: 'agent, reloaded' });
    const resumed = expectOk(await console2.request('agent:resume', { token: s.agent.token }));
    expect(resumed.sessions.map((x) => x.sessionId)).toEqual([s.sessionId]);
    const again = await attach(console2, resumed.sessions[0]!.credential);
    expect(again.participantId).toBe(s.agent.participantId);
    expect(again.attach.handles?.map((x) => x.handle)).toEqual(['kept-handle']);

    h.clock.advance(20_000);
    await h.signaling.core.sweep();
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
  });

  it('[S3] one participant on two connections stays online until the last one goes', async () => {
    const h = await startSignaling({ graceMs: 10_000 });
    const s = await openSession(h);
    const second = await attach(await h.client({ name: 'customer, second tab' }), s.customer.requestToken);
    s.customer.client.close();
    await away(h, s.customer.peerId);
    expect((await h.store.getSession(s.sessionId))?.customerOfflineSince).toBeNull();
    const left = s.agent.client.waitFor('peer:left');
    h.clock.advance(60_000);
    await h.signaling.core.sweep();
    expect((await left).peerId).toBe(s.customer.peerId);
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
    expect(second.participantId).toBe(s.customer.participantId);
  });
});
