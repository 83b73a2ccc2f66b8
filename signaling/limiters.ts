/**
 * Rate limiters come from the composition root: in memory for one process, in Redis when several
 * nodes share the work (issue 10), so that a limit "in total" or "per address" holds across nodes.
 * Counting is rate-limiter-flexible's (its keys, windows and answers; `changeTogether` moves several of
 * its counters in one step). While Redis cannot be reached, each limiter falls back to an
 * in-memory one of the same shape (its insurance limiter): limits then hold per node until Redis is
 * back, rather than every attempt failing or passing unchecked.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { isRedisUnavailable } from './store/redis';
import { StoreUnavailableError } from './store/types';

export interface LimiterOptions {
  /** Names the counter; unique per limiter. */
  keyPrefix: string;
  points: number;
  /** Seconds. */
  duration: number;
}

export type LimiterFactory = (o: LimiterOptions) => RateLimiterAbstract;

export const memoryLimiters: LimiterFactory = (o) => new RateLimiterMemory(o);

/**
 * How a Redis limiter counts, in the library's calls (one key) and in `changeTogether` (several):
 * adds ARGV[1] points (negative: gives back) to each key, and gives a key without a lifetime (just
 * made) its window, ARGV[1 + i] seconds. Returns each key's count and milliseconds left, in order.
 * The library passes (points, window) and two more arguments, unused here. Its own script SETs the
 * key NX first: one command more on every call, for the same counts (decision 0017).
 */
const COUNT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local consumed = redis.call('INCRBY', key, ARGV[1])
  local ttl = redis.call('PTTL', key)
  if ttl == -1 then
    redis.call('EXPIRE', key, ARGV[1 + i])
    ttl = 1000 * ARGV[1 + i]
  end
  out[#out + 1] = consumed
  out[#out + 1] = ttl
end
return out`;

/**
 * The script as a command of our own, for several keys (numkeys first, then the keys, then ARGV).
 * The keys of one call must live on one Redis: the deployment's one instance (README), not slots of
 * a cluster.
 */
const COUNT_TOGETHER = 'joinUs_countTogether';
type CountTogether = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

/** What `changeTogether` needs of a limiter made by `redisLimiters`. */
interface RedisCounter {
  client: Redis;
  insurance: RateLimiterMemory;
}
const redisCounters = new WeakMap<RateLimiterAbstract, RedisCounter>();

/** Limiters counted in Redis under `prefix` (the deployment's key prefix). */
export function redisLimiters(client: Redis, prefix: string): LimiterFactory {
  client.defineCommand(COUNT_TOGETHER, { lua: COUNT_SCRIPT });
  return (o) => {
    const insurance = new RateLimiterMemory(o);
    const limiter = new RateLimiterRedis({
      storeClient: client,
      ...o,
      keyPrefix: `${prefix}:rl:${o.keyPrefix}`,
      // Answer from memory at once while Redis is away (the client's offline queue is off).
      rejectIfRedisNotReady: true,
      insuranceLimiter: insurance,
      // The library defines its script once per client, for all its limiters: the same everywhere.
      customIncrTtlLuaScript: COUNT_SCRIPT,
    });
    redisCounters.set(limiter, { client, insurance });
    return limiter;
  };
}

/** One limiter's counter for one key. */
export type Counter = readonly [limiter: RateLimiterAbstract, key: string];

/**
 * Adds `points` (negative: gives them back) to several counters in one step, as `penalty` (or
 * `reward`) on each would, with the same answers in the same order. Limiters made by one
 * `redisLimiters` count in one script: one command and one atomic step instead of one per counter
 * (H8 counts every log-in per address and in total, and gives both back on success). Other limiters
 * count each on its own. While Redis cannot answer, each counter falls back to its insurance limiter,
 * as the library's own calls do.
 */
export async function changeTogether(counters: readonly Counter[], points: number): Promise<RateLimiterRes[]> {
  if (!Number.isInteger(points)) throw new Error('changeTogether: whole points only');
  const each = (via: (limiter: RateLimiterAbstract) => RateLimiterAbstract) =>
    Promise.all(counters.map(([limiter, key]) => (points >= 0 ? via(limiter).penalty(key, points) : via(limiter).reward(key, -points))));
  const redis = counters.map(([limiter]) => redisCounters.get(limiter));
  const client = redis[0]?.client;
  // A window of 0 s (no expiry) is counted by the library without the script.
  if (!client || redis.some((r) => r?.client !== client) || counters.some(([limiter]) => !(limiter.duration > 0))) {
    return each((limiter) => limiter);
  }
  // As the library does with rejectIfRedisNotReady, and for any failure of its script.
  const insured = () => each((limiter) => redisCounters.get(limiter)!.insurance);
  if (client.status !== 'ready') return insured();
  let got: number[];
  try {
    const keys = counters.map(([limiter, key]) => limiter.getKey(key));
    const windows = counters.map(([limiter]) => limiter.duration);
    got = await (client as unknown as Record<string, CountTogether>)[COUNT_TOGETHER]!.call(client, keys.length, ...keys, points, ...windows);
  } catch {
    return insured();
  }
  return counters.map(([limiter], i) => {
    const consumed = Number(got[2 * i]);
    return new RateLimiterRes(Math.max(limiter.points - consumed, 0), Number(got[2 * i + 1]), consumed, consumed === points);
  });
}

/**
 * H8's proofs of work, across nodes: the secrets challenges are signed with, and which proofs were
 * spent. With one process both live in memory; with several nodes a challenge handed out by one
 * node must be checkable by any other, and a proof spent on one must be spent on all (one proof,
 * one attempt, in the whole deployment).
 */
export interface ProofLedger {
  /** The signing secrets, the same on every node. */
  secrets(): Promise<{ signature: string; key: string }>;
  /** Marks a proof's signature spent until `untilMs`: true for the one caller, on any node, that did. */
  spend(signature: string, untilMs: number): Promise<boolean>;
}

/** The embedded default: secrets made at start-up, spent proofs in a map (pruned as it grows). */
export function memoryProofLedger(): ProofLedger {
  const made = { signature: randomBytes(32).toString('base64url'), key: randomBytes(32).toString('base64url') };
  const spent = new Map<string, number>();
  return {
    secrets: async () => made,
    async spend(signature, untilMs) {
      if (spent.has(signature)) return false;
      spent.set(signature, untilMs);
      if (spent.size % 256 === 0) {
        const now = Date.now();
        for (const [sig, until] of spent) if (until < now) spent.delete(sig);
      }
      return true;
    },
  };
}

/** The signing secrets live this long after their last use (every node uses them all the time). */
const SECRETS_LIFETIME_MS = 30 * 24 * 60 * 60_000;
/** How long a node uses the secrets it read before reading them again (and keeping them alive). */
const SECRETS_REREAD_MS = 10 * 60_000;

/** The secrets if there are some, else the candidate, stored; either way kept alive: one step. */
const SECRETS_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v`;

/** Secrets and spent proofs in Redis under `prefix`: each made or spent once for everyone. */
export function redisProofLedger(client: Redis, prefix: string): ProofLedger {
  const secretsKey = `${prefix}:pow:secrets`;
  let cached: { value: { signature: string; key: string }; until: number } | null = null;
  const unavailable = (err: unknown) => (isRedisUnavailable(err) ? new StoreUnavailableError(undefined, { cause: err }) : err);
  return {
    async secrets() {
      if (cached && cached.until > Date.now()) return cached.value;
      try {
        const candidate = JSON.stringify({ signature: randomBytes(32).toString('base64url'), key: randomBytes(32).toString('base64url') });
        const stored = (await client.eval(SECRETS_SCRIPT, 1, secretsKey, candidate, SECRETS_LIFETIME_MS)) as string;
        const value = JSON.parse(stored) as { signature: string; key: string };
        cached = { value, until: Date.now() + SECRETS_REREAD_MS };
        return value;
      } catch (err) {
        throw unavailable(err);
      }
    },
    async spend(signature, untilMs) {
      try {
        const ms = Math.max(1, Math.ceil(untilMs - Date.now()));
        return (await client.set(`${prefix}:pow:spent:${signature}`, '1', 'PX', ms, 'NX')) === 'OK';
      } catch (err) {
        throw unavailable(err);
      }
    },
  };
}
