/**
 * The rate limiters counted in Redis (signaling/limiters.ts) on a real redis-server of the file's
 * own, so that Redis's command counts (INFO commandstats) are this file's alone. Two "nodes" are two
 * guards on two clients under one prefix, as two signaling processes are. What only Redis can get
 * wrong: a limit holds in total over the nodes, H8's counters move together in one step (issue 11),
 * and Redis going away and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { JoinGuard, SignInGuard, defaultJoinRateLimits, defaultSignInLimits, type Gate } from '../../signaling/guards';
import { changeTogether, memoryLimiters, memoryProofLedger, redisLimiters } from '../../signaling/limiters';
import { createRedisClient, redisReady } from '../../signaling/store/redis';
import { startRedis, uniquePrefix, type RedisServer } from '../support/redis';

let server: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await server?.stop();
});

async function clientOf(): Promise<Redis> {
  const c = createRedisClient(server.url);
  clients.push(c);
  await redisReady(c);
  return c;
}

/** A node's join guard: its own client, the deployment's prefix (cheap proofs: not the subject). */
const joinGuard = (client: Redis, prefix: string) =>
  new JoinGuard({ ...defaultJoinRateLimits, proofSteps: 2 }, redisLimiters(client, prefix), memoryProofLedger());

/** Commands Redis ran, by name (scripts' own calls included), from a connection of its own. */
async function commandCounts(c: Redis): Promise<Map<string, number>> {
  const info = await c.info('commandstats');
  return new Map([...info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** Commands run while `work` ran, without the two INFOs that measure it. */
async function commandsDuring(c: Redis, work: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await commandCounts(c);
  await work();
  const after = await commandCounts(c);
  const ran: Record<string, number> = {};
  for (const [name, calls] of after) {
    const n = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (n > 0) ran[name] = n;
  }
  return ran;
}

const admitted = (g: Gate) => {
  if (!g.ok) throw new Error(`refused: ${g.error.reason}`);
  return g.attempt;
};

describe('rate limiters in Redis', () => {
  it('[H8] failed log-ins through two nodes reach the per-address limit in total; each attempt is one script, a success gives back in one more', async () => {
    const prefix = uniquePrefix();
    const [one, two] = [joinGuard(await clientOf(), prefix), joinGuard(await clientOf(), prefix)];
    const watcher = await clientOf();
    // Loads the scripts on the server, so the counts below are the steady state.
    await admitted(await one.admit('198.51.100.9', undefined)).settle(true);
    await admitted(await two.admit('198.51.100.9', undefined)).settle(true);

    const left: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ran = await commandsDuring(watcher, async () => {
        const attempt = admitted(await [one, two][i % 2]!.admit('198.51.100.1', undefined));
        left.push(attempt.attemptsLeft);
        await attempt.settle(false);
      });
      // Both counters (the address's and the total) in one script: INCRBY and PTTL each, and the
      // address's first failure gives its new counter a lifetime.
      expect(ran).toEqual({ evalsha: 1, incrby: 2, pttl: 2, ...(i === 0 ? { expire: 1 } : {}) });
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    // Past the limit on both nodes, though each saw fewer than five: a proof of work first.
    for (const g of [one, two]) {
      const refused = await g.admit('198.51.100.1', undefined);
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.error.reason).toBe('proof_required');
    }
    // Another address is not held back; a success is given back, both counters in one more script.
    const ran = await commandsDuring(watcher, async () => {
      const attempt = admitted(await two.admit('198.51.100.2', undefined));
      expect(attempt.attemptsLeft).toBe(4);
      await attempt.settle(true);
    });
    expect(ran).toEqual({ evalsha: 2, incrby: 4, pttl: 4, expire: 1 });
    expect(admitted(await one.admit('198.51.100.2', undefined)).attemptsLeft).toBe(4);
  });

  it('[H8] the total over every address holds over two nodes too', async () => {
    const prefix = uniquePrefix();
    const limits = { ...defaultJoinRateLimits, totalFailures: 6, proofSteps: 2 };
    const [one, two] = [await clientOf(), await clientOf()].map((c) => new JoinGuard(limits, redisLimiters(c, prefix), memoryProofLedger()));
    for (let i = 0; i < 6; i++) await admitted(await [one, two][i % 2]!.admit(`198.51.100.${20 + i}`, undefined)).settle(false);
    for (const g of [one!, two!]) {
      const refused = await g.admit('198.51.100.99', undefined);
      expect(!refused.ok && refused.error.message).toContain('on this service right now');
    }
  });

  it('counters moved together read as the library counts them, and move on from where its own calls left them', async () => {
    const prefix = uniquePrefix();
    const c = await clientOf();
    const limiters = redisLimiters(c, prefix);
    const a = limiters({ keyPrefix: 'a', points: 3, duration: 60 });
    const b = limiters({ keyPrefix: 'b', points: 10, duration: 900 });
    await a.penalty('k', 2);
    const [ra, rb] = await changeTogether(
      [
        [a, 'k'],
        [b, 'k'],
      ],
      2,
    );
    expect({ consumed: ra!.consumedPoints, remaining: ra!.remainingPoints, first: ra!.isFirstInDuration }).toEqual({ consumed: 4, remaining: 0, first: false });
    expect({ consumed: rb!.consumedPoints, remaining: rb!.remainingPoints, first: rb!.isFirstInDuration }).toEqual({ consumed: 2, remaining: 8, first: true });
    expect(ra!.msBeforeNext).toBeGreaterThan(0);
    expect(ra!.msBeforeNext).toBeLessThanOrEqual(60_000);
    expect(rb!.msBeforeNext).toBeGreaterThan(60_000);
    expect(rb!.msBeforeNext).toBeLessThanOrEqual(900_000);
    // The same keys and lifetimes the library's own calls use.
    const own = new RateLimiterRedis({ storeClient: c, keyPrefix: `${prefix}:rl:b`, points: 10, duration: 900 });
    expect((await own.get('k'))?.consumedPoints).toBe(2);
    expect(await c.pttl(`${prefix}:rl:b:k`)).toBeGreaterThan(60_000);
    await changeTogether(
      [
        [a, 'k'],
        [b, 'k'],
      ],
      -1,
    );
    expect((await a.get('k'))?.consumedPoints).toBe(3);
    expect((await b.get('k'))?.consumedPoints).toBe(1);
    await expect(changeTogether([[a, 'k']], 0.5)).rejects.toThrow();
  });

  it('in memory, counters moved together count as penalty and reward do', async () => {
    const a = memoryLimiters({ keyPrefix: 'a', points: 3, duration: 60 });
    const b = memoryLimiters({ keyPrefix: 'b', points: 5, duration: 60 });
    const counters = [
      [a, 'k'],
      [b, 'k'],
    ] as const;
    expect((await changeTogether(counters, 1)).map((r) => r.consumedPoints)).toEqual([1, 1]);
    expect((await changeTogether(counters, 1)).map((r) => r.remainingPoints)).toEqual([1, 3]);
    expect((await changeTogether(counters, -1)).map((r) => r.consumedPoints)).toEqual([1, 1]);
  });

  it('while Redis is away each node counts in memory at once (no attempt fails or slips through unchecked), and in Redis again once it is back', async () => {
    const own = await startRedis();
    const c = createRedisClient(own.url);
    try {
      await redisReady(c);
      const prefix = uniquePrefix();
      const guard = joinGuard(c, prefix);
      const signIn = new SignInGuard({ ...defaultSignInLimits, perAccountAndAddress: 2 }, guard.proofs, redisLimiters(c, prefix));
      await admitted(await guard.admit('198.51.100.3', undefined)).settle(false);

      await own.stop();
      const started = Date.now();
      // This node's memory has not seen the failure above: it counts from there.
      const left: number[] = [];
      for (let i = 0; i < 5; i++) {
        const attempt = admitted(await guard.admit('198.51.100.3', undefined));
        left.push(attempt.attemptsLeft);
        await attempt.settle(false);
      }
      expect(left).toEqual([4, 3, 2, 1, 0]);
      expect(await guard.admit('198.51.100.3', undefined)).toMatchObject({ ok: false, error: { reason: 'proof_required' } });
      // Sign-in's three counters too: past two failures for the account from this address, a wait.
      for (let i = 0; i < 2; i++) await admitted(await signIn.admit('alice', '198.51.100.3', undefined)).settle(false);
      expect(await signIn.admit('alice', '198.51.100.3', undefined)).toMatchObject({ ok: false, error: { reason: 'rate_limited' } });
      expect(Date.now() - started).toBeLessThan(1_000);

      await own.restart();
      await redisReady(c);
      // Redis came back empty (no persistence): counted there again, from zero.
      expect(admitted(await guard.admit('198.51.100.4', undefined)).attemptsLeft).toBe(4);
      expect(await c.get(`${prefix}:rl:join-ip:198.51.100.4`)).toBe('1');
      expect(await c.get(`${prefix}:rl:join-all:all`)).toBe('1');
    } finally {
      c.disconnect();
      await own.stop();
    }
  });
});
