/** S1 over real sockets: every agent sees the queue; of several accepting at once, exactly one wins. */
import { describe, expect, it } from 'vitest';
import { eventually, expectOk, expectRefused, startSignaling } from '../support/signaling';
import { requestHelp, signInAgent } from '../support/flows';
import { MemoryStore } from '../../signaling/store/memory';
import type { Store } from '../../signaling/store/types';

const agents = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`agent${i}`, `password-${i}`]));

describe('the customer queue', () => {
  it('[S1] every signed-in agent sees a request; of agents accepting at once, exactly one gets it', async () => {
    const h = await startSignaling({ agents });
    const consoles = await Promise.all(Object.keys(agents).map((name) => signInAgent(h, name, agents[name])));

    const seen = consoles.map((a) => a.client.waitFor('queue:changed', (c) => c.added !== undefined));
    const customer = await requestHelp(h, 'Carla', 'Refund');
    for (const change of await Promise.all(seen)) {
      expect(change).toEqual({
        version: 1,
        count: 1,
        added: { requestId: customer.requestId, name: 'Carla', topic: 'Refund', requestedAt: expect.any(Number) },
      });
    }

    const gone = consoles.map((a) => a.client.waitFor('queue:changed', (c) => c.removed?.requestId === customer.requestId));
    const admitted = customer.client.waitFor('customer:admitted');
    const acks = await Promise.all(consoles.map((a) => a.client.request('queue:accept', { requestId: customer.requestId })));

    const winners = acks.flatMap((a, i) => (a.ok ? [{ session: a.session, agent: consoles[i]! }] : []));
    expect(winners).toHaveLength(1);
    for (const a of acks) if (!a.ok) expect(expectRefused(a, 'already_taken').message).toMatch(/already accepted/);
    // One change, told once to each console, as taken.
    for (const change of await Promise.all(gone)) expect(change).toEqual({ version: 2, count: 0, removed: { requestId: customer.requestId, because: 'taken' } });
    for (const a of consoles) {
      await a.client.roundTrip();
      expect(a.client.received('queue:changed').map((c) => c.version)).toEqual([1, 2]);
    }

    const { session, agent } = winners[0]!;
    expect((await admitted).sessionId).toBe(session.sessionId);
    expect(await h.store.listActiveSessions()).toEqual([expect.objectContaining({ sessionId: session.sessionId, agentName: agent.name })]);
    expect(await h.store.listQueue()).toEqual([]);
  });

  it('[S1] a waiting customer hears its place only when it changes: those ahead of a departure hear nothing', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h);
    const c = [];
    for (const name of ['Ann', 'Ben', 'Cat', 'Dan', 'Eve']) c.push(await requestHelp(h, name));
    const [ann, ben, cat, dan, eve] = c as [(typeof c)[0], (typeof c)[0], (typeof c)[0], (typeof c)[0], (typeof c)[0]];

    // Cat (3rd) leaves: Dan and Eve move up; Ann and Ben, ahead of her, hear nothing.
    const danUp = dan.client.waitFor('queue:position', (p) => p.position === 3);
    const eveUp = eve.client.waitFor('queue:position', (p) => p.position === 4);
    expectOk(await cat.client.request('customer:cancel', { requestToken: cat.requestToken }));
    expect((await danUp).version).toBe(6);
    await eveUp;
    for (const x of [ann, ben]) {
      await x.client.roundTrip();
      expect(x.client.received('queue:position')).toEqual([]);
    }

    // Ann is taken: everyone behind her moves up once.
    const moved = [ben, dan, eve].map((x, i) => x.client.waitFor('queue:position', (p) => p.position === i + 1));
    expectOk(await alice.client.request('queue:accept', { requestId: ann.requestId }));
    await Promise.all(moved);

    // A newcomer is last: nobody ahead moves, nobody is told anything.
    const before = [ben, dan, eve].map((x) => x.client.received('queue:position').length);
    const fred = await requestHelp(h, 'Fred');
    expect(expectOk(await fred.client.request('customer:resume', { requestToken: fred.requestToken }))).toEqual({
      requestId: fred.requestId,
      position: 4,
      version: 8,
    });
    // A later departure's batch reaches Eve; nothing from Fred's arrival came before it.
    const eveNext = eve.client.waitFor('queue:position', (p) => p.position === 2);
    expectOk(await dan.client.request('customer:cancel', { requestToken: dan.requestToken }));
    await eveNext;
    await ben.client.roundTrip();
    expect([ben, dan, eve].map((x) => x.client.received('queue:position').length)).toEqual([before[0], before[1], before[2]! + 1]);
    expect(alice.client.received('queue:changed').map((x) => x.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('[S1] an agent signing in later finds the waiting customers in its answer, oldest first', async () => {
    const h = await startSignaling();
    const first = await requestHelp(h, 'First');
    const second = await requestHelp(h, 'Second');
    expect(second.requestId).not.toBe(first.requestId);
    const client = await h.client();
    const ack = expectOk(await client.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
    expect(ack.queue).toEqual({ version: 2, count: 2, entries: [expect.objectContaining({ name: 'First' }), expect.objectContaining({ name: 'Second' })] });
    expect(ack.sessions).toEqual([]);
  });

  it('[S1] a wrong password is refused and grants no agent powers', async () => {
    const h = await startSignaling();
    const customer = await requestHelp(h);
    const client = await h.client();
    const bad = await client.request('agent:signIn', { username: 'alice', password: 'nope' });
    expectRefused(bad, 'sign_in_failed');
    const unknown = await client.request('agent:signIn', { username: 'mallory', password: 'alice-password' });
    expect(expectRefused(unknown, 'sign_in_failed').message).toBe(bad.ok ? '' : bad.error.message);
    expectRefused(await client.request('queue:accept', { requestId: customer.requestId }), 'unauthorized');
    expectRefused(await client.request('agent:resume', { token: 'A'.repeat(43) }), 'unauthorized');
    await client.roundTrip();
    expect(client.received('queue:changed')).toEqual([]);
    expectRefused(await client.request('queue:list', { limit: 10 }), 'unauthorized');
    expect(await h.store.listQueue()).toHaveLength(1);
  });

  it('[S1] an agent who signs out stops seeing the queue and cannot accept', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h);
    expectOk(await alice.client.request('agent:signOut', {}));
    const customer = await requestHelp(h);
    expectRefused(await alice.client.request('queue:accept', { requestId: customer.requestId }), 'unauthorized');
    expectRefused(await alice.client.request('agent:resume', { token: alice.token }), 'unauthorized');
    await alice.client.roundTrip();
    expect(alice.client.received('queue:changed')).toEqual([]);
  });

  it('[S1] a customer who cancels leaves the queue, and every agent sees it gone', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h);
    const customer = await requestHelp(h);
    const gone = alice.client.waitFor('queue:changed', (c) => c.removed !== undefined);
    expectOk(await customer.client.request('customer:cancel', { requestToken: customer.requestToken }));
    expect((await gone).removed).toEqual({ requestId: customer.requestId, because: 'left' });
    expectRefused(await alice.client.request('queue:accept', { requestId: customer.requestId }), 'already_taken');
  });

  it('[S1] one request at a time per connection, and a customer whose session ended can ask again', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h);
    const customer = await requestHelp(h);
    expectRefused(await customer.client.request('customer:request', { name: 'Again', topic: '' }), 'invalid_request');
    expect(await h.store.listQueue()).toHaveLength(1);

    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: customer.requestId }));
    expectOk(await alice.client.request('session:attach', { credential: session.credential }));
    expectOk(await alice.client.request('session:end', { sessionId: session.sessionId }));
    const again = expectOk(await customer.client.request('customer:request', { name: 'Carla', topic: 'One more thing' }));
    expect(again.position).toBe(1);
    expect(again.requestId).not.toBe(customer.requestId);
  });

  it('[S3] a waiting customer who reconnects in time keeps its place; one who stays away is dropped after graceMs', async () => {
    const h = await startSignaling({ graceMs: 30_000 });
    const alice = await signInAgent(h);
    const stays = await requestHelp(h, 'Stays');
    const leaves = await requestHelp(h, 'Leaves');

    stays.client.close();
    leaves.client.close();
    await eventually(async () => (await h.store.listQueue()).every((r) => r.offlineSince !== null), 'both requests are offline');
    h.clock.advance(29_999);
    const back = await h.client({ name: 'stays, reloaded' });
    const resumed = expectOk(await back.request('customer:resume', { requestToken: stays.requestToken }));
    expect(resumed).toEqual({ requestId: stays.requestId, position: 1, version: 2 });

    h.clock.advance(1);
    const dropped = alice.client.waitFor('queue:changed', (c) => c.removed !== undefined);
    await h.signaling.core.sweep();
    expect(await dropped).toEqual({ version: 3, count: 1, removed: { requestId: leaves.requestId, because: 'left' } });
    const late = await h.client({ name: 'leaves, too late' });
    expectRefused(await late.request('customer:resume', { requestToken: leaves.requestToken }), 'not_found');

    // Accepted while the reloaded page is connected: it is told at once.
    const admitted = back.waitFor('customer:admitted');
    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: stays.requestId }));
    expect((await admitted).sessionId).toBe(session.sessionId);
  });

  it('[S3] a customer coming back while an agent accepts it is told it was accepted', async () => {
    // The store answers the resume's read of the place only after the agent has accepted: the
    // acceptance lands between the resume finding the request and answering it.
    let entered: () => void = () => {};
    const inRead = new Promise<void>((resolve) => (entered = resolve));
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const inner = new MemoryStore();
    const store = new Proxy(inner, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function') return value;
        if (key !== 'queuePosition') return value.bind(target);
        return async (requestId: string) => {
          const at = await inner.queuePosition(requestId);
          if (holding) {
            entered();
            await held;
          }
          return at;
        };
      },
    }) as Store;
    const h = await startSignaling({ store });
    const alice = await signInAgent(h);
    const customer = await requestHelp(h);
    customer.client.close();
    await eventually(async () => (await h.store.listOfflineRequests()).length === 1, 'the request is offline');

    const back = await h.client({ name: 'customer, reloaded' });
    const admitted = back.waitFor('customer:admitted');
    holding = true;
    const resumed = back.request('customer:resume', { requestToken: customer.requestToken });
    await inRead;
    holding = false;
    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: customer.requestId }));
    release();
    await resumed;
    // However the answer reads, the page hears the acceptance and can attach.
    expect((await admitted).sessionId).toBe(session.sessionId);
    expectOk(await back.request('session:attach', { credential: customer.requestToken }));
  });

  it('[S3] a customer accepted while away learns it on resume and attaches with its request token', async () => {
    const h = await startSignaling();
    const alice = await signInAgent(h);
    const customer = await requestHelp(h);
    customer.client.close();
    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: customer.requestId }));
    const back = await h.client();
    expect(expectOk(await back.request('customer:resume', { requestToken: customer.requestToken }))).toEqual({
      admitted: { sessionId: session.sessionId },
    });
    const a = expectOk(await back.request('session:attach', { credential: customer.requestToken }));
    expect(a).toMatchObject({ sessionId: session.sessionId, role: 'customer', name: 'Carla Customer' });
  });
});
