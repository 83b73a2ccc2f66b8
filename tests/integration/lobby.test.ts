/**
 * Admission lobby ("Ask before admitting", PRODUCT.md): a party that logs in with a handle waits,
 * holding nothing that opens the session's room, until the agent admits or declines it. Enforced by
 * the server.
 */
import { describe, expect, it } from 'vitest';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { attach, openSession } from '../support/flows';

async function lobbySession(h: Awaited<ReturnType<typeof startSignaling>>) {
  const s = await openSession(h);
  const update = s.agent.client.waitFor('lobby:update', (p) => p.enabled);
  expectOk(await s.agent.client.request('lobby:set', { sessionId: s.sessionId, enabled: true }));
  expect(await update).toEqual({ sessionId: s.sessionId, enabled: true, waiting: [] });
  return s;
}

describe('admission lobby', () => {
  it('a party waits, sees nothing of the session, and is let in when the agent admits it', async () => {
    const h = await startSignaling();
    const s = await lobbySession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'lobby-handle' }));

    const guest = await h.client({ name: 'guest' });
    const waitingSeen = s.agent.client.waitFor('lobby:update', (p) => p.waiting.length === 1);
    const login = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'lobby-handle' }));
    expect(login.waiting).toBe(true);
    const { waiting } = await waitingSeen;
    expect(waiting).toEqual([{ participantId: expect.any(String), name: 'Gus', since: expect.any(Number) }]);
    // The handle is spent at once (H3), whatever the agent decides.
    expect(await h.store.getHandle('lobby-handle', h.clock.now())).toBeNull();

    // The credential opens nothing yet: no attach, no signals, no room events.
    expectRefused(await guest.request('session:attach', { credential: login.credential }), 'waiting');
    expectRefused(await guest.request('signal:send', { sessionId: s.sessionId, to: s.agent.peerId, data: { type: 'offer' } }), 'forbidden');
    expect(expectOk(await guest.request('lobby:wait', { credential: login.credential }))).toEqual({ sessionId: s.sessionId, admitted: false });
    expectOk(await s.customer.client.request('session:detach', { sessionId: s.sessionId }));
    await attach(s.customer.client, s.customer.requestToken);
    await guest.roundTrip();
    expect(guest.receivedEvents().filter((e) => e.startsWith('peer:') || e.startsWith('signal:'))).toEqual([]);

    // Only the session's agent decides.
    expectRefused(
      await s.customer.client.request('lobby:decide', { sessionId: s.sessionId, participantId: waiting[0]!.participantId, admit: true }),
      'unauthorized',
    );
    const admitted = guest.waitFor('lobby:admitted');
    const emptied = s.agent.client.waitFor('lobby:update', (p) => p.waiting.length === 0);
    expectOk(await s.agent.client.request('lobby:decide', { sessionId: s.sessionId, participantId: waiting[0]!.participantId, admit: true }));
    expect(await admitted).toEqual({ sessionId: s.sessionId });
    await emptied;
    const joined = s.agent.client.waitFor('peer:joined', (p) => p.participantId === waiting[0]!.participantId);
    const party = await attach(guest, login.credential);
    expect(party.attach.role).toBe('guest');
    await joined;
    // A second decision about the same party changes nothing.
    expectRefused(
      await s.agent.client.request('lobby:decide', { sessionId: s.sessionId, participantId: waiting[0]!.participantId, admit: false }),
      'not_found',
    );
  });

  it('a declined party is told, its credential is dead, and the handle stays spent', async () => {
    const h = await startSignaling();
    const s = await lobbySession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'declined-one' }));
    const guest = await h.client();
    const seen = s.agent.client.waitFor('lobby:update', (p) => p.waiting.length === 1);
    const login = expectOk(await guest.request('handle:login', { name: 'Mallory', handle: 'declined-one' }));
    expectOk(await guest.request('lobby:wait', { credential: login.credential }));
    const { waiting } = await seen;
    const declined = guest.waitFor('lobby:declined');
    expectOk(await s.agent.client.request('lobby:decide', { sessionId: s.sessionId, participantId: waiting[0]!.participantId, admit: false }));
    expect(await declined).toEqual({ sessionId: s.sessionId });
    const refused = expectRefused(await guest.request('session:attach', { credential: login.credential }), 'declined');
    expect(refused.message).toBe('The agent did not let you in. The handle cannot be used again.');
    expectRefused(await guest.request('lobby:wait', { credential: login.credential }), 'declined');
    expectRefused(await (await h.client()).request('handle:login', { name: 'Mallory', handle: 'declined-one' }), 'handle_unusable');
  });

  it('off (the default) keeps the seed behaviour; a waiting party hears when the session ends', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'straight-in' }));
    const direct = expectOk(await (await h.client()).request('handle:login', { name: 'Ada', handle: 'straight-in' }));
    expect(direct.waiting).toBe(false);
    expect(s.agent.attach.lobby).toEqual({ enabled: false, waiting: [] });

    expectOk(await s.agent.client.request('lobby:set', { sessionId: s.sessionId, enabled: true }));
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'waits-then-ends' }));
    const guest = await h.client();
    const login = expectOk(await guest.request('handle:login', { name: 'Bo', handle: 'waits-then-ends' }));
    expectOk(await guest.request('lobby:wait', { credential: login.credential }));
    // A console that attaches now sees who waits.
    const again = await attach(await h.client(), s.agent.credential);
    expect(again.attach.lobby).toEqual({ enabled: true, waiting: [expect.objectContaining({ name: 'Bo' })] });
    const ended = guest.waitFor('session:ended');
    expectOk(await s.agent.client.request('session:end', { sessionId: s.sessionId }));
    expect((await ended).sessionId).toBe(s.sessionId);
    expectRefused(await guest.request('lobby:wait', { credential: login.credential }), 'session_ended');
  });

  it('JOINUS_LOBBY on: new sessions ask before admitting; only their agent switches it', async () => {
    const h = await startSignaling({ lobbyByDefault: true });
    const s = await openSession(h);
    expect(s.agent.attach.lobby?.enabled).toBe(true);
    const other = await openSession(h, { agent: 'bob' });
    expectRefused(await other.agent.client.request('lobby:set', { sessionId: s.sessionId, enabled: false }), 'forbidden');
    expectRefused(await s.customer.client.request('lobby:set', { sessionId: s.sessionId, enabled: false }), 'unauthorized');
  });
});
