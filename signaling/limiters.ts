/**
 * Rate limiters come from the composition root: in memory for one process, in Redis when several
 * nodes share the work (issue 10), so that a limit "in total" or "per address" holds across nodes.
 * Counting is rate-limiter-flexible's. While Redis cannot be reached, each limiter falls back to an
 * in-memory one of the same shape (its insurance limiter): limits then hold per node until Redis is
 * back, rather than every attempt failing or passing unchecked.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

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
