/** S2 over real sockets: a credential admits to its own session's room and nothing else. */
import { describe, expect, it } from 'vitest';
import { expectOk, expectRefused, startSignaling, type TestClient } from '../support/signaling';
import { inviteGuest, openSession, requestHelp } from '../support/flows';

const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };

describe('admission and relay', () => {
  it('[S2] signals between two attached peers of one session arrive as signal:recv with the sender', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'relay-test' });

    const atCustomer = s.customer.client.waitFor('signal:recv');
    expectOk(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }));
    expect(await atCustomer).toEqual({ sessionId: s.sessionId, from: s.agent.peerId, data: offer });

    const answer = { type: 'answer', sdp: 'v=0', extra: { nested: [1, 2, 3] } };
    const atGuest = guest.client.waitFor('signal:recv');
    expectOk(await s.customer.client.request('signal:send', { sessionId: s.sessionId, to: guest.peerId, data: answer }));
    expect(await atGuest).toEqual({ sessionId: s.sessionId, from: s.customer.peerId, data: answer });

    // Addressed to one peer only: the agent got neither.
    await s.agent.client.roundTrip();
    expect(s.agent.client.received('signal:recv')).toEqual([]);
  });

  it('[S2] a credential of session A cannot signal to a peer of session B', async () => {
    const h = await startSignaling();
    const a = await openSession(h, { agent: 'alice', customerName: 'Ann' });
    const b = await openSession(h, { agent: 'bob', customerName: 'Ben' });
    const intruders: TestClient[] = [a.customer.client, a.agent.client];

    for (const client of intruders) {
      // Through its own session id: the target is not in it.
      expectRefused(await client.request('signal:send', { sessionId: a.sessionId, to: b.customer.peerId, data: offer }), 'not_found');
      // Through B's session id: this socket is not attached to B.
      expectRefused(await client.request('signal:send', { sessionId: b.sessionId, to: b.customer.peerId, data: offer }), 'forbidden');
      expectRefused(await client.request('signal:send', { sessionId: b.sessionId, to: b.agent.peerId, data: offer }), 'forbidden');
    }
    // A's credential attaches to A, whatever the socket wanted.
    const other = await h.client();
    expect(expectOk(await other.request('session:attach', { credential: a.customer.requestToken })).sessionId).toBe(a.sessionId);
    expectRefused(await other.request('signal:send', { sessionId: b.sessionId, to: b.customer.peerId, data: offer }), 'forbidden');

    for (const c of [b.customer.client, b.agent.client]) {
      await c.roundTrip();
      expect(c.received('signal:recv')).toEqual([]);
    }
    // …while B's own peers still reach each other.
    const inB = b.customer.client.waitFor('signal:recv');
    expectOk(await b.agent.client.request('signal:send', { sessionId: b.sessionId, to: b.customer.peerId, data: offer }));
    expect((await inB).from).toBe(b.agent.peerId);
  });

  it('[S2] a socket that has not attached, or has detached, cannot send signals', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const anonymous = await h.client({ name: 'anonymous' });
    expectRefused(await anonymous.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'forbidden');
    // A peer id is not a credential: knowing the agent's peer id admits nothing.
    expectRefused(await anonymous.request('signal:send', { sessionId: s.sessionId, to: s.agent.peerId, data: offer }), 'forbidden');

    const left = s.agent.client.waitFor('peer:left');
    expectOk(await s.customer.client.request('session:detach', { sessionId: s.sessionId }));
    expect((await left).peerId).toBe(s.customer.peerId);
    expectRefused(await s.customer.client.request('signal:send', { sessionId: s.sessionId, to: s.agent.peerId, data: offer }), 'forbidden');
    // And nobody sends to a detached peer.
    expectRefused(await s.agent.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'not_found');

    for (const c of [s.customer.client, s.agent.client]) {
      await c.roundTrip();
      expect(c.received('signal:recv')).toEqual([]);
    }
  });

  it('[S2] agent-only events are refused to customers, guests and anonymous sockets', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'agents-only' }));
    const guest = await inviteGuest(h, s, { handle: 'guest-handle' });
    const anonymous = await h.client({ name: 'anonymous' });
    const waiting = await requestHelp(h, 'Waiting');

    for (const client of [s.customer.client, guest.client, anonymous, waiting.client]) {
      const who = client.name;
      expect(expectRefused(await client.request('handle:reserve', { sessionId: s.sessionId, handle: 'mine-now' }), 'unauthorized').message, who).toMatch(/agent/);
      expectRefused(await client.request('handle:suggest', { sessionId: s.sessionId }), 'unauthorized');
      expectRefused(await client.request('handle:cancel', { sessionId: s.sessionId, handle: 'agents-only' }), 'unauthorized');
      expectRefused(await client.request('queue:accept', { requestId: waiting.requestId }), 'unauthorized');
      expectRefused(await client.request('participant:remove', { sessionId: s.sessionId, participantId: guest.participantId }), 'forbidden');
    }
    // Nothing changed.
    expect(await h.store.getHandle('mine-now', h.clock.now())).toBeNull();
    expect(await h.store.getHandle('agents-only', h.clock.now())).toMatchObject({ sessionId: s.sessionId });
    expect((await h.store.listQueue()).map((r) => r.requestId)).toEqual([waiting.requestId]);
    expect((await h.store.getParticipant(guest.participantId))?.state).toBe('active');
    expect((await h.store.listPeers(s.sessionId)).map((p) => p.peerId)).toContain(guest.peerId);
    await guest.client.roundTrip();
    expect(guest.client.received('participant:removed')).toEqual([]);
  });

  it('[S2] credentials are long random secrets; a guessed one admits nothing', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'secret-test' });
    for (const credential of [s.summary.credential, s.customer.requestToken, guest.credential]) {
      // ≥ 128 bits: at least 22 base64url characters.
      expect(credential).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    }
    expect(new Set([s.summary.credential, s.customer.requestToken, guest.credential]).size).toBe(3);
    const guesser = await h.client();
    expectRefused(await guesser.request('session:attach', { credential: 'A'.repeat(43) }), 'unauthorized');
    expectRefused(await guesser.request('session:attach', { credential: s.sessionId }), 'unauthorized');
    expectRefused(await guesser.request('session:attach', { credential: s.customer.peerId }), 'unauthorized');
    // Stored only as hashes.
    expect(await h.store.getCredential(guest.credential)).toBeNull();
  });

  it('[S2] attach results carry the ICE servers and say who is already in the room', async () => {
    const iceServers = [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }];
    const h = await startSignaling({ iceServers });
    const s = await openSession(h);
    expect(s.agent.attach.iceServers).toEqual(iceServers);
    expect(s.customer.attach.iceServers).toEqual(iceServers);
    const guest = await inviteGuest(h, s, { handle: 'ice-check' });
    expect(guest.attach.peers).toHaveLength(2);
    expect(guest.attach.iceServers).toEqual(iceServers);
  });

  it('[S2][S3] what a connection may do comes from the store: once its tab took the peer back elsewhere, or was removed, the old connection is refused', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'two-connections' });

    // The guest's tab comes back on a new connection and takes its peer id back: the old connection
    // (still open, say half-dead) holds nothing any more, on this node or any other.
    const again = await h.client({ name: 'guest again' });
    expectOk(await again.request('session:attach', { credential: guest.credential, peerId: guest.peerId }));
    expectRefused(await guest.client.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'forbidden');
    expectRefused(await guest.client.request('session:leave', { sessionId: s.sessionId }), 'forbidden');
    const atCustomer = s.customer.client.waitFor('signal:recv');
    expectOk(await again.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }));
    expect((await atCustomer).from).toBe(guest.peerId);

    // Removed by the agent: the connection that held the peer can no longer act in the session.
    expectOk(await s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: guest.participantId }));
    expectRefused(await again.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: offer }), 'forbidden');
    expectRefused(await again.request('session:leave', { sessionId: s.sessionId }), 'removed');
    // The session over: the agent's connection is told so, not "join first".
    expectOk(await s.agent.client.request('session:end', { sessionId: s.sessionId }));
    expectRefused(await s.agent.client.request('page:check', { sessionId: s.sessionId, url: 'https://example.com/' }), 'session_ended');
  });
});
