/**
 * The shared Store contract (store-contract.ts) against RedisStore on a real redis-server (one for the
 * file, a fresh key prefix per test), and what only Redis can get wrong: every key has a lifetime,
 * atomic steps across separate connections, and Redis going away and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisClient, RedisStore, redisReady } from '../../signaling/store/redis';
import { connectionIdOf, StoreUnavailableError, type SessionRecord } from '../../signaling/store/types';
import { startRedis, uniquePrefix, type RedisServer } from '../support/redis';
import { sessionRecord, storeContract } from '../unit/store-contract';

const MINUTE = 60_000;

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = createRedisClient(server.url);
  await redisReady(client);
});

afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

// The stores of the contract share the file's client; each has a prefix of its own.
storeContract('RedisStore', () => new RedisStore(client, { prefix: uniquePrefix() }));

describe('RedisStore on a real Redis', () => {
  const T0 = Math.floor(Date.now() / 1000) * 1000;

  const session = (sessionId: string, over: Partial<SessionRecord> = {}): SessionRecord => sessionRecord(sessionId, T0, over);

  const createSession = (store: RedisStore, s: SessionRecord) =>
    store.createSession(s, [
      { participantId: s.agentParticipantId, sessionId: s.sessionId, role: 'agent', name: s.agentName, joinedAt: T0, state: 'active' },
      { participantId: s.customerParticipantId, sessionId: s.sessionId, role: 'customer', name: s.customerName, joinedAt: T0, state: 'active' },
    ]);

  const request = (requestId: string, offlineSince: number | null = null) => ({
    requestId,
    tokenHash: `hash-of-${requestId}`,
    name: 'Cleo',
    topic: 'Help',
    requestedAt: T0,
    offlineSince,
  });

  /** Every key under the store's prefix (SCAN is fine in a test; the store never scans). */
  async function keysOf(store: RedisStore): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${store.keyPrefix}*`, 'COUNT', 500);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  it('every key it writes has a lifetime, and none ends before the caller considers its record over', async () => {
    const store = new RedisStore(client, { prefix: uniquePrefix() });
    const node = 'node-a';
    // Handles: one live, one consumed.
    await store.reserveHandle({ handle: 'h1', sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + 15 * MINUTE }, T0);
    await store.reserveHandle({ handle: 'h2', sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + 15 * MINUTE }, T0);
    await store.consumeHandle('h2', T0);
    // Queue: one waiting and held, one away, one claimed.
    for (const r of [request('r1'), request('r2', T0), request('r3')]) await store.enqueue(r);
    await store.holdRequest('r1', connectionIdOf(node, 'sock-1'));
    await store.holdRequest('r3', connectionIdOf(node, 'sock-3'));
    await store.claimRequest('r3');
    await store.setRequestOffline('r1', T0 + 1);
    // Sessions: one active with a grace clock, one ended; participants with keys; credentials.
    await createSession(store, session('s1'));
    await store.setOfflineSince('s1', 'customer', T0 + 2);
    await store.setLobby('s1', true);
    await createSession(store, session('s2', { agentName: 'bob' }));
    await store.endSession('s2', 'ended_by_agent', T0 + 3);
    await store.addParticipantKey('s1-agent', 'key-1', 4);
    await store.setParticipantState('s1-customer', 'left', 'active');
    await store.putCredential('cred-1', { sessionId: 's1', participantId: 's1-agent', issuedAt: T0, revoked: null });
    await store.putCredential('cred-2', { sessionId: 's1', participantId: 's1-customer', issuedAt: T0, revoked: null });
    await store.revokeCredentials({ sessionId: 's1', participantId: 's1-customer' }, 'left');
    // Peers: one connected on the node, one away.
    await store.putPeer({ peerId: 'p1', sessionId: 's1', participantId: 's1-agent', connectionId: connectionIdOf(node, 'sock-1'), disconnectedAt: null });
    await store.putPeer({ peerId: 'p2', sessionId: 's1', participantId: 's1-customer', connectionId: connectionIdOf(node, 'sock-2'), disconnectedAt: null });
    await store.markPeerAway('p2', connectionIdOf(node, 'sock-2'), T0 + 4);
    // Nodes, turns, agent tokens.
    await store.renewNodeLease(node, T0 + 30_000);
    await store.renewNodeLease('node-dead', T0 + 1_000);
    await store.takeExpiredNodes(T0 + 2_000);
    await store.takeTurn('sweep', node, T0, 10_000);
    await store.putAgentToken('token-1', { name: 'alice', issuedAt: T0, expiresAt: T0 + 12 * 60 * MINUTE });

    const keys = await keysOf(store);
    const kinds = new Set(keys.map((k) => k.slice(store.keyPrefix.length).split(':')[0]));
    expect([...kinds].sort()).toEqual(
      [
        'handle', 'session-handles', 'handle-expiries',
        'queue', 'queue-seq', 'queue-version', 'request', 'request-by-token', 'offline-requests', 'request-holds', 'node-holds',
        'session', 'active-sessions', 'agent-sessions', 'grace-sessions', 'ended-sessions',
        'participant', 'session-participants', 'credential', 'session-credentials',
        'peer', 'session-peers', 'away-peers', 'node-peers',
        'node-leases', 'node-reaping', 'turn', 'agent-token',
      ].sort(),
    );
    const lifetimes = new Map<string, number>();
    for (const key of keys) lifetimes.set(key.slice(store.keyPrefix.length), await client.pttl(key));
    for (const [key, ms] of lifetimes) expect({ key, ms: ms > 0 }).toEqual({ key, ms: true });
    // The backstops outlast what the caller still counts on: a handle its expiry, a token its
    // expiry, a turn its duration; records and indexes much longer.
    expect(lifetimes.get('handle:h1')).toBeGreaterThan(15 * MINUTE);
    expect(lifetimes.get('handle-expiries')).toBeGreaterThan(15 * MINUTE);
    expect(lifetimes.get('agent-token:token-1')).toBeGreaterThan(12 * 60 * MINUTE);
    expect(lifetimes.get('turn:sweep')).toBeGreaterThan(10_000);
    expect(lifetimes.get('session:s1')).toBeGreaterThan(23 * 60 * MINUTE);
    expect(lifetimes.get('queue-version')).toBeGreaterThan(24 * 60 * MINUTE);
  });

  it('an index is never shortened: a later, shorter-lived member leaves its lifetime as it was', async () => {
    const store = new RedisStore(client, { prefix: uniquePrefix() });
    await createSession(store, session('s1'));
    const reserve = (handle: string, forMs: number) =>
      store.reserveSessionHandle({ handle, sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + forMs }, T0);
    await reserve('long', 15 * MINUTE);
    await reserve('short', MINUTE);
    for (const index of ['session-handles:s1', 'handle-expiries']) {
      expect(await client.pttl(`${store.keyPrefix}${index}`)).toBeGreaterThan(15 * MINUTE);
    }
    await reserve('longer', 30 * MINUTE);
    expect(await client.pttl(`${store.keyPrefix}session-handles:s1`)).toBeGreaterThan(30 * MINUTE);
  });

  it('a handle cycle (reserve; consume with the party and its credential) is two scripts and at most 30 commands in Redis (issue 11)', async () => {
    // The test's Redis runs only this file's tests, one at a time: its command counts are this test's.
    const counts = async () => {
      const info = await client.info('commandstats');
      return new Map([...info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    };
    const store = new RedisStore(client, { prefix: uniquePrefix() });
    await createSession(store, session('s1'));
    const cycle = async (handle: string, n: number) => {
      await store.reserveSessionHandle({ handle, sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + 15 * MINUTE }, T0);
      const consumed = await store.consumeSessionHandle(handle, T0 + 1, { participantId: `guest-${n}`, name: 'Gus', credentialHash: `cred-${n}` });
      expect(consumed?.reservation.handle).toBe(handle);
      expect(consumed?.guest?.state).toBe('active');
    };
    await cycle('warm-up', 0); // the scripts are loaded, whatever ran before
    const before = await counts();
    await cycle('counted', 1);
    const after = await counts();
    const ran = new Map([...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0)]));
    const total = [...ran.values()].reduce((a, b) => a + b, 0);
    expect(ran.get('evalsha')).toBe(2); // 3 before the party was written with the consume
    // 36 before decision 0017: a PTTL before each index's PEXPIRE, a DEL before each new record.
    expect(total).toBeLessThanOrEqual(30); // 31 with the party's own script
    expect(ran.get('pttl') ?? 0).toBe(0);
    expect(ran.get('del')).toBe(1); // the consumed handle; new records need none
  });

  it('of 50 concurrent calls over 5 connections, exactly one consumes a handle, claims a request, ends a session', async () => {
    const prefix = uniquePrefix();
    const clients = Array.from({ length: 5 }, () => createRedisClient(server.url));
    try {
      await Promise.all(clients.map((c) => redisReady(c)));
      const stores = clients.map((c) => new RedisStore(c, { prefix }));
      const [first] = stores as [RedisStore];
      const fifty = <T>(call: (store: RedisStore) => Promise<T>) => Promise.all(Array.from({ length: 50 }, (_, i) => call(stores[i % stores.length]!)));

      await first.reserveHandle({ handle: 'contended', sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + 15 * MINUTE }, T0);
      const consumed = await fifty((s) => s.consumeHandle('contended', T0 + 1));
      expect(consumed.filter((x) => x !== null)).toHaveLength(1);

      await first.enqueue(request('hot'));
      const claimed = await fifty((s) => s.claimRequest('hot'));
      expect(claimed.filter((x) => x !== null)).toEqual([{ request: request('hot'), version: 2, count: 0, next: null }]);

      await createSession(first, session('s1'));
      const ended = await fifty((s) => s.endSession('s1', 'ended_by_agent', T0 + 5));
      expect(ended.filter((x) => x !== null)).toHaveLength(1);
      expect(await first.getSession('s1')).toMatchObject({ state: 'ended', endedAt: T0 + 5 });
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('rejects with StoreUnavailableError at once while Redis is down, and works again once it is back', async () => {
    const own = await startRedis();
    const c = createRedisClient(own.url);
    try {
      await redisReady(c);
      const store = new RedisStore(c, { prefix: uniquePrefix() });
      await createSession(store, session('before'));

      await own.stop();
      for (const call of [() => store.getSession('before'), () => store.endSession('before', 'ended_by_agent', T0), () => store.renewNodeLease('n', T0)]) {
        const started = Date.now();
        const err = await call().then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect((err as Error).cause).toBeInstanceOf(Error);
        expect(Date.now() - started).toBeLessThan(1_000);
      }

      await own.restart();
      await redisReady(c);
      // The same store, not made again; the scripts are loaded again by themselves (the new server has none).
      expect(await store.getSession('before')).toBeNull(); // nothing persisted
      await createSession(store, session('after'));
      expect(await store.endSession('after', 'ended_by_agent', T0 + 1)).toMatchObject({ state: 'ended' });
      expect(await store.reserveHandle({ handle: 'h', sessionId: 'after', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + MINUTE }, T0)).toBe(true);
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  it('a command in flight when Redis dies fails with StoreUnavailableError at once, not after a timeout', async () => {
    const own = await startRedis();
    const c = createRedisClient(own.url);
    const pauser = createRedisClient(own.url);
    try {
      await Promise.all([redisReady(c), redisReady(pauser)]);
      const store = new RedisStore(c, { prefix: uniquePrefix() });
      await store.reserveHandle({ handle: 'h', sessionId: 's', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + MINUTE }, T0);
      // The server holds every command sent from now on, so these are sent and unanswered when it dies.
      await pauser.client('PAUSE', 10_000, 'ALL');
      const started = Date.now();
      const pending = [store.getHandle('h', T0), store.consumeHandle('h', T0)].map((p) => p.then(() => null, (e: unknown) => e));
      await own.kill();
      for (const err of await Promise.all(pending)) expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000); // the client's command timeout is 5 s
    } finally {
      c.disconnect();
      pauser.disconnect();
      await own.stop();
    }
  });

  it('commands auto-pipelined behind one in flight also fail at once when Redis dies (issue 11)', async () => {
    // The store's client sends the commands of one tick as one pipeline, and only one pipeline at a
    // time: those of later ticks wait for it. When Redis dies, the waiting ones fail as fast as those
    // in flight, not after a timeout (the client has no offline queue).
    const own = await startRedis();
    const c = createRedisClient(own.url);
    const pauser = createRedisClient(own.url);
    try {
      await Promise.all([redisReady(c), redisReady(pauser)]);
      expect(c.options.enableAutoPipelining).toBe(true);
      const store = new RedisStore(c, { prefix: uniquePrefix() });
      await createSession(store, session('s1'));
      await pauser.client('PAUSE', 10_000, 'ALL');
      const started = Date.now();
      const settle = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
      const inFlight = [store.getSession('s1'), store.consumeSessionHandle('h', T0)].map(settle);
      await new Promise((r) => setImmediate(r)); // that pipeline is sent; the next ones wait behind it
      const waiting = [store.reserveSessionHandle({ handle: 'h2', sessionId: 's1', reservedBy: 'alice', reservedAt: T0, expiresAt: T0 + MINUTE }, T0), store.getSession('s1')].map(settle);
      await own.kill();
      for (const err of await Promise.all([...inFlight, ...waiting])) expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000); // the client's command timeout is 5 s
    } finally {
      c.disconnect();
      pauser.disconnect();
      await own.stop();
    }
  });

  it('errors that are not about the connection propagate as they are', async () => {
    const store = new RedisStore(client, { prefix: uniquePrefix() });
    await client.set(`${store.keyPrefix}handle:not-a-hash`, 'x');
    const err = await store.getHandle('not-a-hash', T0).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/WRONGTYPE/);
    await client.del(`${store.keyPrefix}handle:not-a-hash`);
  });

  it('keys carry the prefix in a hash tag; a prefix that would break it is refused', () => {
    expect(new RedisStore(client, { prefix: 'acme' }).keyPrefix).toBe('jus:{acme}:');
    expect(() => new RedisStore(client, { prefix: '' })).toThrow();
    expect(() => new RedisStore(client, { prefix: 'a}b' })).toThrow();
  });
});
