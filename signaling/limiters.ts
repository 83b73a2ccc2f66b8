/**
 * Rate limiters come from the composition root: in memory for one process, in Redis when several
 * nodes share the work (issue 10), so that a limit "in total" or "per address" holds across nodes.
 * Counting is rate-limiter-flexible's. While Redis cannot be reached, each limiter falls back to an
 * in-memory one of the same shape (its insurance limiter): limits then hold per node until Redis is
 * back, rather than every attempt failing or passing unchecked.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
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

/** Limiters counted in Redis under `prefix` (the deployment's key prefix). */
export function redisLimiters(client: Redis, prefix: string): LimiterFactory {
  return (o) =>
    new RateLimiterRedis({
      storeClient: client,
      ...o,
      keyPrefix: `${prefix}:rl:${o.keyPrefix}`,
      // Answer from memory at once while Redis is away (the client's offline queue is off).
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(o),
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
