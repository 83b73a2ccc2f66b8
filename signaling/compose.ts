/**
 * The composition root of a signaling node, shared by both entry points: `server.ts` (`npm start`:
 * pages and signaling in one process) and `signaling/main.ts` (`npm run signaling`: signaling
 * alone). It reads the validated configuration and picks the implementations: the in-memory store,
 * limiters and socket.io adapter by default; with REDIS_URL, the Redis store, Redis-counted limiters
 * and socket.io's Redis adapter, so that any number of nodes share handles, sessions and rooms.
 */
import type { Server as HttpServer } from 'node:http';
import { randomFillSync } from 'node:crypto';
import type { RandomBytes } from './core/clock';
import type { Logger } from 'pino';
import { Redis } from 'ioredis';
import { createAdapter } from '@socket.io/redis-adapter';
import { loadConfig, orExit, type AppConfig } from './config';
import { hashPlaintextPasswords } from './core/passwords';
import { systemClock } from './core/clock';
import { defaultCoreConfig } from './core/core';
import { createSignaling, defaultJoinRateLimits, type Signaling, type SignalingOptions } from './server';
import { MemoryStore } from './store/memory';
import { RedisStore, createRedisClient } from './store/redis';
import type { Store } from './store/types';
import { memoryLimiters, redisLimiters, redisProofLedger, type ProofLedger } from './limiters';

/** The signaling configuration, or a clear message and exit code 2. */
export const loadConfigOrExit = (): AppConfig => orExit(() => loadConfig());

/** Start-up warnings about agent accounts, for the person at the terminal and for the log. */
export function warnAboutAccounts(config: AppConfig, logger: Logger): void {
  if (config.demoAgent) {
    const bar = '*'.repeat(78);
    console.warn(
      `\n${bar}\n  WARNING: neither JOINUS_AGENTS nor JOINUS_AGENTS_FILE is set: the demo agent account\n` +
        `  "agent" / "agent" is active. Anyone who can reach this server can sign in as an agent.\n` +
        `  Set one of them (README, Configuration) before you put this in front of people.\n${bar}\n`,
    );
    logger.warn({ demoAgent: true }, 'JOINUS_AGENTS and JOINUS_AGENTS_FILE are not set: demo agent account agent/agent is active');
  }
  if (config.plaintextAgents.length > 0) {
    logger.warn(
      { accounts: config.plaintextAgents },
      'the agent accounts give these passwords in clear: store their hashes instead (npm run hash-password)',
    );
  }
}

export interface SignalingNode {
  signaling: Signaling;
  store: 'memory' | 'redis';
  /** False while the store cannot be reached (the health check answers 503 then). */
  ready(): boolean;
  close(): Promise<void>;
}

/** Log a Redis client's state changes once each, not every failed reconnection attempt. */
function watch(client: Redis, role: string, logger: Logger): void {
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) logger.error({ redis: role, err: err.message }, 'Redis is not reachable: retrying');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info({ redis: role }, 'Redis is reachable again');
    down = false;
  });
}

/**
 * The CSPRNG (crypto.randomFillSync), drawn `poolBytes` at a time: a handle log-in takes ids and a
 * credential (48 bytes), and asking the system for each few bytes was 4–6% of the server's time in the
 * handle-cycle benchmark. Every byte is handed out once, as a copy.
 */
export function pooledRandomBytes(poolBytes = 4096): RandomBytes {
  const pool = Buffer.alloc(poolBytes);
  let used = poolBytes;
  return (n) => {
    if (n > poolBytes) return randomFillSync(new Uint8Array(n));
    if (used + n > poolBytes) {
      randomFillSync(pool);
      used = 0;
    }
    used += n;
    return new Uint8Array(pool.subarray(used - n, used));
  };
}

/** SIGINT and SIGTERM close the node (its connections' clean-ups written), then exit; in 3 s at most. */
export function stopOnSignals(node: SignalingNode, logger: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    // Once: Ctrl+C in a terminal signals `npm start`'s wrapper and the server alike, and the wrapper passes its own on.
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void node.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

export async function startSignalingNode(
  httpServer: HttpServer,
  config: AppConfig,
  logger: Logger,
  overrides: Partial<SignalingOptions> = {},
): Promise<SignalingNode> {
  // Every password as a scrypt hash in memory: sign-in timing then says nothing about which names exist.
  const agents = await hashPlaintextPasswords(config.agents);

  let store: Store = new MemoryStore();
  let limiters = memoryLimiters;
  let proofLedger: ProofLedger | undefined;
  let adapter: SignalingOptions['adapter'];
  const clients: Redis[] = [];
  let data: Redis | null = null;
  if (config.redisUrl) {
    // The store's client fails a command at once while Redis is away ("temporarily unavailable"),
    // rather than queueing it; the adapter's two queue their messages until Redis is back and never
    // give up on one (the adapter does not handle a failed publish).
    data = createRedisClient(config.redisUrl);
    const pub = new Redis(config.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 100, 2000) });
    const sub = pub.duplicate();
    clients.push(data, pub, sub);
    watch(data, 'store', logger);
    watch(pub, 'adapter', logger);
    watch(sub, 'adapter', logger);
    store = new RedisStore(data, { prefix: config.redisPrefix });
    limiters = redisLimiters(data, config.redisPrefix);
    proofLedger = redisProofLedger(data, config.redisPrefix);
    // No wait between creating the clients and the server (whose adapter subscribes then): a
    // subscription sent while the subscriber's ready check is in flight is refused by ioredis; one
    // sent before it connects is queued and sent in order. The node waits for Redis later, for its
    // first lease (signaling/server.ts).
    adapter = createAdapter(pub, sub, { key: `${config.redisPrefix}-io` });
  }

  const signaling = createSignaling(httpServer, {
    store,
    clock: systemClock,
    randomBytes: pooledRandomBytes(),
    config: {
      ...defaultCoreConfig,
      agents,
      handleTtlMs: config.handleTtlMs,
      graceMs: config.graceMs,
      nodeLeaseMs: config.nodeLeaseMs,
      lobbyByDefault: config.lobby,
    },
    iceServers: config.iceServers,
    turn: config.turn,
    iceTransportPolicy: config.iceTransportPolicy,
    frameCheck: config.frameCheck,
    forms: config.forms,
    trustProxy: config.trustProxy,
    allowedOrigins: config.allowedOrigins,
    joinRateLimits: { ...defaultJoinRateLimits, proofSteps: config.proofSteps },
    logger,
    limiters,
    proofLedger,
    adapter,
    leases: config.redisUrl !== null,
    ...overrides,
  });

  return {
    signaling,
    store: config.redisUrl ? 'redis' : 'memory',
    ready: () => data === null || data.status === 'ready',
    async close() {
      await signaling.close();
      // QUIT waits for Redis, for ever while it is away: then just close the connection.
      await Promise.all(clients.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    },
  };
}
