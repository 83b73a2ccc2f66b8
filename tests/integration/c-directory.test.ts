/**
 * Decision 0010: the server vouches for the keys participants sign their writes with. Each attach
 * registers the tab's public key; every participant gets the session's directory (names, roles, keys)
 * and hears of a new key before it hears of the peer that signs with it.
 */
import { describe, expect, it } from 'vitest';
import { tabKeys } from '../../lib/collab/authorship';
import { MAX_KEYS_PER_PARTICIPANT } from '../../lib/protocol';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

const newKey = async () => (await tabKeys('any', null)).publicKey;

describe('[C] the session directory: keys the server vouches for', () => {
  it('an attach registers its key; the directory names everyone admitted, with roles from the server', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const agentKey = await newKey();
    const a = expectOk(await s.agent.client.request('session:attach', { credential: s.summary.credential, publicKey: agentKey }));
    expect(a.directory.map((e) => [e.name, e.role])).toEqual([
      ['alice', 'agent'],
      ['Carla Customer', 'customer'],
    ]);
    expect(a.directory.find((e) => e.role === 'agent')!.keys).toEqual([agentKey]);
    // The same key again (a reload of the same tab) is not a second key.
    const again = expectOk(await s.agent.client.request('session:attach', { credential: s.summary.credential, publicKey: agentKey }));
    expect(again.directory.find((e) => e.role === 'agent')!.keys).toEqual([agentKey]);
  });

  it('the room hears of a new key before it hears of the peer that signs with it', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'key-order' }));
    const guest = await h.client({ name: 'guest' });
    const login = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'key-order' }));
    const key = await newKey();
    const joined = s.customer.client.waitFor('peer:joined');
    const a = expectOk(await guest.request('session:attach', { credential: login.credential, publicKey: key }));
    await joined;
    const events = s.customer.client.receivedEvents();
    const added = s.customer.client.received('directory:add');
    expect(added).toEqual([{ sessionId: s.sessionId, participantId: a.participantId, name: 'Gus', role: 'guest', keys: [key], joinedAt: expect.any(Number) }]);
    expect(events.lastIndexOf('directory:add')).toBeLessThan(events.lastIndexOf('peer:joined'));
    expect(a.directory.map((e) => e.name)).toEqual(['alice', 'Carla Customer', 'Gus']);
  });

  it('a party removed stays in the directory, marked gone (its earlier writes still verify); a waiting party is not in it', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const gus = await inviteGuest(h, s, { handle: 'gone-guest', name: 'Gus' });
    expectOk(await s.agent.client.request('participant:remove', { sessionId: s.sessionId, participantId: gus.participantId }));
    expectOk(await s.agent.client.request('lobby:set', { sessionId: s.sessionId, enabled: true }));
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'lobby-wait' }));
    const waiting = await h.client({ name: 'waiting' });
    expectOk(await waiting.request('handle:login', { name: 'Wendy', handle: 'lobby-wait' }));
    const a = expectOk(await s.agent.client.request('session:attach', { credential: s.summary.credential, publicKey: await newKey() }));
    expect(a.directory.map((e) => [e.name, e.gone ?? null])).toEqual([
      ['alice', null],
      ['Carla Customer', null],
      ['Gus', 'removed'],
    ]);
  });

  it('a key that is not a P-256 public key is refused; so is a key past the per-participant limit', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    for (const bad of ['', 'x'.repeat(87) + '=', 'A'.repeat(86), 'A'.repeat(5000), '<script>'.padEnd(87, 'A')]) {
      expectRefused(await s.agent.client.request('session:attach', { credential: s.summary.credential, publicKey: bad }), 'invalid_request');
    }
    for (let i = 0; i < MAX_KEYS_PER_PARTICIPANT - 1; i++) {
      expectOk(await s.customer.client.request('session:attach', { credential: s.customer.requestToken, publicKey: await newKey() }));
    }
    const last = expectOk(await s.customer.client.request('session:attach', { credential: s.customer.requestToken, publicKey: await newKey() }));
    expect(last.directory.find((e) => e.role === 'customer')!.keys).toHaveLength(MAX_KEYS_PER_PARTICIPANT);
    const refused = expectRefused(
      await s.customer.client.request('session:attach', { credential: s.customer.requestToken, publicKey: await newKey() }),
      'forbidden',
    );
    expect(refused.message).toMatch(/too many browser tabs/);
  });
});
