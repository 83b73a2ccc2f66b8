/** H1–H5, H7–H9 over real sockets: the life of a handle from reservation to use, cancel and expiry. */
import { describe, expect, it } from 'vitest';
import { Messages } from '../../lib/protocol';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { attach, inviteGuest, openSession, requestHelp, signInAgent } from '../support/flows';

describe('handle life cycle over sockets', () => {
  it('[H3] a reserved handle admits one party and is free again from that moment (end to end)', async () => {
    const h = await startSignaling();

    // The agent signs in; nobody is waiting yet.
    const alice = await signInAgent(h, 'alice');
    const signIn = expectOk(await (await h.client()).request('agent:signIn', { username: 'alice', password: 'alice-password' }));
    expect(signIn.queue).toEqual({ version: 0, count: 0, entries: [] });
    expect(signIn.token).not.toBe(alice.token);

    // A customer asks for help: it sees its place in the queue, the agent sees the request.
    const customerClient = await h.client({ name: 'customer' });
    const queued = alice.client.waitFor('queue:changed', (c) => c.added !== undefined);
    const req = expectOk(await customerClient.request('customer:request', { name: '  Carla  ', topic: 'Billing' }));
    expect(req.position).toBe(1);
    // A second customer queues behind and sees its position move up when the first is accepted.
    const waiting = await requestHelp(h, 'Dan');
    expect(await h.signaling.core.queuePosition(waiting.requestId)).toEqual({ position: 2, version: 2 });
    const movedUp = waiting.client.waitFor('queue:position', (p) => p.position === 1);
    const entry = (await queued).added;
    expect(entry).toMatchObject({ requestId: req.requestId, name: 'Carla', topic: 'Billing' });
    expect(entry).not.toHaveProperty('tokenHash');

    // The agent accepts; the customer is told; both attach with their own credentials.
    const admitted = customerClient.waitFor('customer:admitted');
    const emptied = alice.client.waitFor('queue:changed', (c) => c.removed !== undefined);
    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: req.requestId }));
    expect(session).toMatchObject({ customerName: 'Carla', topic: 'Billing' });
    expect((await admitted).sessionId).toBe(session.sessionId);
    await movedUp;
    expect(await emptied).toEqual({ version: 3, count: 1, removed: { requestId: req.requestId, because: 'taken' } });
    expect(expectOk(await alice.client.request('queue:list', { limit: 5 })).entries.map((e) => e.requestId)).toEqual([waiting.requestId]);

    const agent = await attach(alice.client, session.credential);
    expect(agent.attach).toMatchObject({ sessionId: session.sessionId, role: 'agent', name: 'alice', peers: [], handles: [] });
    const customerJoined = alice.client.waitFor('peer:joined');
    const customer = await attach(customerClient, req.requestToken);
    expect(customer.attach).toMatchObject({ sessionId: session.sessionId, role: 'customer', name: 'Carla' });
    expect(customer.attach.peers).toEqual([{ peerId: agent.peerId, participantId: agent.participantId }]);
    expect(customer.attach).not.toHaveProperty('handles');
    expect(await customerJoined).toEqual({
      sessionId: session.sessionId,
      peerId: customer.peerId,
      participantId: customer.participantId,
    });

    // [H1] The agent reserves a handle: trimmed and lower-cased; the agent's console is updated.
    const update = alice.client.waitFor('handles:update', (u) => u.handles.length === 1);
    const reserved = expectOk(
      await alice.client.request('handle:reserve', { sessionId: session.sessionId, handle: '  Blue-Otter-42 ' }),
    );
    expect(reserved).toEqual({ handle: 'blue-otter-42', expiresAt: h.clock.now() + 15 * 60_000 });
    expect(await update).toEqual({ sessionId: session.sessionId, handles: [reserved] });
    expect(await h.store.getHandle('blue-otter-42', h.clock.now())).toMatchObject({ sessionId: session.sessionId });

    // [H9] A second reservation for the same session, for a second party.
    const [suggestion] = [expectOk(await alice.client.request('handle:suggest', { sessionId: session.sessionId }))];
    // [H7] Two words and digits, not reserved by anyone.
    expect(suggestion?.handle).toMatch(/^[a-z]+-[a-z]+-\d{5}$/);
    expect(await h.store.getHandle(suggestion!.handle, h.clock.now())).toBeNull();
    const both = alice.client.waitFor('handles:update', (u) => u.handles.length === 2);
    expectOk(await alice.client.request('handle:reserve', { sessionId: session.sessionId, handle: suggestion!.handle }));
    expect((await both).handles.map((x) => x.handle)).toEqual(['blue-otter-42', suggestion!.handle]);

    // Only the agent hears about handles.
    await customerClient.roundTrip();
    expect(customerClient.received('handles:update')).toEqual([]);

    // A guest logs in with the handle, typed in another case; it is consumed and leaves the list.
    const guestClient = await h.client({ name: 'guest' });
    const consumed = alice.client.waitFor('handles:update', (u) => u.handles.length === 1);
    const login = expectOk(await guestClient.request('handle:login', { name: 'Gus', handle: 'BLUE-OTTER-42' }));
    expect(login.sessionId).toBe(session.sessionId);
    expect(login.credential).not.toBe(req.requestToken);
    expect((await consumed).handles.map((x) => x.handle)).toEqual([suggestion!.handle]);
    expect(await h.store.getHandle('blue-otter-42', h.clock.now())).toBeNull();

    // The guest attaches and everyone already there is told.
    const agentSeesGuest = alice.client.waitFor('peer:joined');
    const customerSeesGuest = customerClient.waitFor('peer:joined');
    const guest = await attach(guestClient, login.credential);
    expect(guest.attach).toMatchObject({ sessionId: session.sessionId, role: 'guest', name: 'Gus' });
    expect(new Set(guest.attach.peers.map((p) => p.peerId))).toEqual(new Set([agent.peerId, customer.peerId]));
    expect((await agentSeesGuest).participantId).toBe(guest.participantId);
    expect((await customerSeesGuest).participantId).toBe(guest.participantId);

    // [H8] The used handle is unusable, with the same message as any other unusable handle.
    const second = await (await h.client()).request('handle:login', { name: 'Mallory', handle: 'blue-otter-42' });
    expect(expectRefused(second, 'handle_unusable').message).toBe(Messages.handleUnusable);

    // [H3] Free again: another agent's session can reserve it at once.
    const bobs = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    const again = expectOk(await bobs.agent.client.request('handle:reserve', { sessionId: bobs.sessionId, handle: 'blue-otter-42' }));
    expect(again.handle).toBe('blue-otter-42');
    expect(await h.store.getHandle('blue-otter-42', h.clock.now())).toMatchObject({ sessionId: bobs.sessionId });
  });

  it('[H1] a malformed handle is refused with a message that says why', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const reserve = (handle: string) => s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle });

    expect(expectRefused(await reserve('abc'), 'handle_invalid').message).toMatch(/at least 4/);
    expect(expectRefused(await reserve('blue otter'), 'handle_invalid').message).toMatch(/letters.*digits.*hyphens/);
    expect(expectRefused(await reserve('blue_otter'), 'handle_invalid').message).toMatch(/letters.*digits.*hyphens/);
    expect(expectRefused(await reserve('a'.repeat(33)), 'handle_invalid').message).toMatch(/at most 32/);
    expect(expectRefused(await reserve('   '), 'handle_invalid').message).toMatch(/Enter a handle/);
    // Longer than any handle input: refused at the edge, still with a reason a person can read.
    expect(expectRefused(await reserve('a'.repeat(65)), 'invalid_request').message).toMatch(/at most 32/);
    expect(expectOk(await reserve('a'.repeat(32))).handle).toBe('a'.repeat(32));
    expect(await h.store.listSessionHandles(s.sessionId, h.clock.now())).toHaveLength(1);
  });

  it('[H2] a handle in use is refused for every agent, in any case', async () => {
    const h = await startSignaling();
    const a = await openSession(h, { agent: 'alice' });
    const b = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    expectOk(await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'green-lamp-7' }));

    const taken = await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: 'GREEN-LAMP-7' });
    expect(expectRefused(taken, 'handle_in_use').message).toBe(Messages.handleInUse);
    const mine = await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'green-lamp-7' });
    expect(expectRefused(mine, 'handle_in_use').message).toBe(Messages.handleInUse);
    expect(await h.store.getHandle('green-lamp-7', h.clock.now())).toMatchObject({ sessionId: a.sessionId });
    // [H7] Suggestions skip handles in use: a suggestion is always reservable.
    const { handle } = expectOk(await b.agent.client.request('handle:suggest', { sessionId: b.sessionId }));
    expectOk(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle }));
  });

  it('[H9] a burst of changes reaches the console as fewer messages, in order, ending with the last state', async () => {
    // Issue 11: the console hears of its handles at most once per window (the first change at once,
    // the burst's last state at its end), so a busy session costs fewer messages; it never misses
    // the state things end in, and never sees them out of order.
    const h = await startSignaling();
    const s = await openSession(h, { agent: 'alice' });
    const states: string[][] = [];
    const record = async () => states.push((await h.store.listSessionHandles(s.sessionId, h.clock.now())).map((x) => x.handle));
    const reserve = async (handle: string) => {
      expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle }));
      await record();
    };
    const guest = await h.client({ name: 'guest' });
    const final = s.agent.client.waitFor('handles:update', (u) => u.handles.map((x) => x.handle).join() === 'burst-one,burst-three');
    await reserve('burst-one');
    await reserve('burst-two');
    await reserve('burst-three');
    expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'burst-two' }));
    await record();
    await final;

    const seen = s.agent.client.received('handles:update').map((u) => u.handles.map((x) => x.handle));
    expect(seen[0]).toEqual(['burst-one']); // the first change at once
    expect(seen.at(-1)).toEqual(['burst-one', 'burst-three']);
    expect(seen.length).toBeLessThan(states.length);
    // Each message is a state the session was in, in the order it was in them.
    let at = 0;
    for (const handles of seen) {
      at = states.findIndex((st, i) => i >= at && st.join() === handles.join());
      expect(at, JSON.stringify({ seen, states })).toBeGreaterThanOrEqual(0);
    }
  });

  it('[H5] the agent cancels a reservation: it is free and no longer admits anyone', async () => {
    const h = await startSignaling();
    const a = await openSession(h, { agent: 'alice' });
    const b = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    expectOk(await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'red-kite-99' }));

    // Only the session's own agent may cancel it.
    expectRefused(await b.agent.client.request('handle:cancel', { sessionId: a.sessionId, handle: 'red-kite-99' }), 'forbidden');
    expectRefused(await b.agent.client.request('handle:cancel', { sessionId: b.sessionId, handle: 'red-kite-99' }), 'not_found');
    expect(await h.store.getHandle('red-kite-99', h.clock.now())).not.toBeNull();

    const cleared = a.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    expectOk(await a.agent.client.request('handle:cancel', { sessionId: a.sessionId, handle: 'Red-Kite-99' }));
    expect(await cleared).toEqual({ sessionId: a.sessionId, handles: [] });
    expect(await h.store.getHandle('red-kite-99', h.clock.now())).toBeNull();
    expectRefused(await a.agent.client.request('handle:cancel', { sessionId: a.sessionId, handle: 'red-kite-99' }), 'not_found');

    const login = await (await h.client()).request('handle:login', { name: 'Gus', handle: 'red-kite-99' });
    expect(expectRefused(login, 'handle_unusable').message).toBe(Messages.handleUnusable);
    expectOk(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: 'red-kite-99' }));
  });

  it('[H5] a reservation expires after handleTtlMs (fake clock, then sweep)', async () => {
    const h = await startSignaling({ handleTtlMs: 60_000 });
    const a = await openSession(h, { agent: 'alice' });
    const b = await openSession(h, { agent: 'bob', customerName: 'Dora' });
    const r = expectOk(await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'late-train-5' }));
    expect(r.expiresAt).toBe(h.clock.now() + 60_000);

    h.clock.advance(59_999);
    await h.signaling.core.sweep();
    expect(await h.store.getHandle('late-train-5', h.clock.now())).not.toBeNull();
    await a.agent.client.roundTrip();
    expect(a.agent.client.received('handles:update').at(-1)?.handles).toHaveLength(1);
    expectRefused(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: 'late-train-5' }), 'handle_in_use');

    h.clock.advance(1);
    const expired = a.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    await h.signaling.core.sweep();
    expect(await expired).toEqual({ sessionId: a.sessionId, handles: [] });
    const login = await (await h.client()).request('handle:login', { name: 'Gus', handle: 'late-train-5' });
    expect(expectRefused(login, 'handle_unusable').message).toBe(Messages.handleUnusable);
    expectOk(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: 'late-train-5' }));
    // The sessions themselves are untouched by the passing of time while everyone is attached.
    expect((await h.store.getSession(a.sessionId))?.state).toBe('active');
  });

  it('[H5] on the wall clock, the server\'s own sweeper expires a reservation and tells the agent', async () => {
    const h = await startSignaling({ clock: 'system', handleTtlMs: 150, sweepIntervalMs: 20 });
    const s = await openSession(h);
    const reserved = s.agent.client.waitFor('handles:update', (u) => u.handles.length === 1);
    const expired = s.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    const r = expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'wall-clock' }));
    await reserved;
    await expired;
    expect(Date.now()).toBeGreaterThanOrEqual(r.expiresAt);
    expect(await h.store.getHandle('wall-clock', Date.now())).toBeNull();
  });

  it('[H5] an expired reservation admits nobody even before a sweep has run', async () => {
    const h = await startSignaling({ handleTtlMs: 60_000 });
    const a = await openSession(h);
    expectOk(await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'quiet-moon-3' }));
    h.clock.advance(60_000);
    const login = await (await h.client()).request('handle:login', { name: 'Gus', handle: 'quiet-moon-3' });
    expect(expectRefused(login, 'handle_unusable').message).toBe(Messages.handleUnusable);
    expect(await h.store.listParticipants(a.sessionId)).toHaveLength(2);
  });

  it('[H9] a session holds several handles and each admits its own party', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const g1 = await inviteGuest(h, s, { handle: 'first-party', name: 'Specialist' });
    const g2 = await inviteGuest(h, s, { handle: 'second-party', name: 'Supervisor' });
    expect(g1.participantId).not.toBe(g2.participantId);
    expect(g2.attach.peers.map((p) => p.participantId)).toContain(g1.participantId);
    const roles = (await h.store.listParticipants(s.sessionId)).map((p) => p.role).sort();
    expect(roles).toEqual(['agent', 'customer', 'guest', 'guest']);
  });

  it('[S2] a waiting customer cannot use its request token to reserve, and an agent cannot reserve for a session it does not hold', async () => {
    const h = await startSignaling();
    const s = await openSession(h, { agent: 'alice' });
    const bob = await signInAgent(h, 'bob');
    expectRefused(await bob.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'sneaky-one' }), 'forbidden');
    expectRefused(await bob.client.request('handle:suggest', { sessionId: s.sessionId }), 'forbidden');
    const waiting = await requestHelp(h, 'Eve');
    expectRefused(await waiting.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'sneaky-one' }), 'unauthorized');
    expect(await h.store.getHandle('sneaky-one', h.clock.now())).toBeNull();
  });
});
