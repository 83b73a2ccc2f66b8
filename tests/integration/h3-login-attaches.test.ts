/**
 * H3 with S2 (decision 0014): the Join Us page sends the tab's public key with the handle, and a party
 * the session admits at once is attached by the same request, as `session:attach` would attach it:
 * in the rooms, in the directory with its key, announced to the others, able to signal. One round
 * trip from "Join Us" to dialling the peers instead of two.
 */
import { describe, expect, it } from 'vitest';
import { newTabKeys } from '../../lib/collab/authorship';
import { expectOk, startSignaling } from '../support/signaling';
import { openSession } from '../support/flows';

describe('[H3][S2] a log-in that carries the tab key attaches in the same round trip', () => {
  it('the answer holds the attachment; the others hear of the key, then of the peer; signals flow at once', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'one-trip' }));
    const guest = await h.client({ name: 'guest' });
    const { publicKey } = await newTabKeys();
    const joined = s.customer.client.waitFor('peer:joined', (p) => p.sessionId === s.sessionId);
    const login = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'one-trip', publicKey }));
    expect(login.waiting).toBe(false);
    const a = login.attached!;
    expect(a).toMatchObject({ sessionId: s.sessionId, role: 'guest', name: 'Gus', resumed: false });
    expect(a.directory.find((e) => e.name === 'Gus')!.keys).toEqual([publicKey]);
    expect(a.peers.map((p) => p.peerId).sort()).toEqual([s.agent.peerId, s.customer.peerId].sort());
    expect((await joined).peerId).toBe(a.peerId);
    const events = s.customer.client.receivedEvents();
    expect(events.lastIndexOf('directory:add')).toBeLessThan(events.lastIndexOf('peer:joined'));

    // No session:attach: the guest relays to the customer and hears the customer's answer.
    const heard = s.customer.client.waitFor('signal:recv', (p) => p.from === a.peerId);
    expectOk(await guest.request('signal:send', { sessionId: s.sessionId, to: s.customer.peerId, data: { hello: 1 } }));
    expect((await heard).data).toEqual({ hello: 1 });
    const back = guest.waitFor('signal:recv', (p) => p.from === s.customer.peerId);
    expectOk(await s.customer.client.request('signal:send', { sessionId: s.sessionId, to: a.peerId, data: { hello: 1 } }));
    await back;

    // The handle is spent (H3) and the credential attaches again like any other (a reload), taking the peer back.
    const again = await h.client({ name: 'reload' });
    const resumed = expectOk(await again.request('session:attach', { credential: login.credential, publicKey, peerId: a.peerId }));
    expect(resumed).toMatchObject({ participantId: a.participantId, peerId: a.peerId, resumed: true });
    expect(expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'one-trip' })).handle).toBe('one-trip');
  });

  it('without a key, or with the lobby on, the log-in answers as before and does not attach', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'no-key' }));
    const plain = await h.client({ name: 'plain' });
    const noKey = expectOk(await plain.request('handle:login', { name: 'Pia', handle: 'no-key' }));
    expect(noKey.attached).toBeUndefined();
    expect(s.customer.client.received('peer:joined').filter((p) => p.sessionId === s.sessionId)).toHaveLength(0);

    expectOk(await s.agent.client.request('lobby:set', { sessionId: s.sessionId, enabled: true }));
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'lobby-key' }));
    const waiting = await h.client({ name: 'waiting' });
    const { publicKey } = await newTabKeys();
    const w = expectOk(await waiting.request('handle:login', { name: 'Wendy', handle: 'lobby-key', publicKey }));
    expect(w).toMatchObject({ waiting: true });
    expect(w.attached).toBeUndefined();
    // Not admitted: nothing of the session reaches the waiting party's connection.
    expect(waiting.receivedEvents().filter((e) => e === 'peer:joined' || e === 'directory:add' || e === 'signal:recv')).toEqual([]);
  });

  it('a malformed key is refused like any bad input, and the handle stays reserved', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'bad-key' }));
    const guest = await h.client({ name: 'guest' });
    const r = await guest.request('handle:login', { name: 'Gus', handle: 'bad-key', publicKey: 'not-a-key' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe('invalid_request');
    const later = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'bad-key' }));
    expect(later.sessionId).toBe(s.sessionId);
  });
});
