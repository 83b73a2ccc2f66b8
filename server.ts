/**
 * Composition root: read validated configuration, pick the store, and serve the Next.js pages and
 * the signaling server on one HTTP server and port.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import next from 'next';
import pino from 'pino';
import { ConfigError, loadConfig } from './signaling/config';
import { hashPlaintextPasswords } from './signaling/core/passwords';
import { createSignaling, defaultJoinRateLimits } from './signaling/server';
import { MemoryStore } from './signaling/store/memory';
import { systemClock } from './signaling/core/clock';
import { defaultCoreConfig } from './signaling/core/core';

async function main(): Promise<void> {
  const dev = process.argv.includes('--dev');
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel });
  if (config.redisUrl) {
    logger.fatal('REDIS_URL is set, but this version runs the embedded in-memory store only. Unset REDIS_URL.');
    process.exit(2);
  }
  if (config.demoAgent) {
    const bar = '*'.repeat(78);
    // Loud on purpose, for the person at the terminal as well as for the log collector.
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

  // Every password as a scrypt hash in memory: sign-in timing then says nothing about which names exist.
  const agents = await hashPlaintextPasswords(config.agents);

  // Read by proxy.ts, which builds each page's security headers in this same process.
  process.env.JOINUS_HELP_EMBED_ORIGINS = config.helpEmbedOrigins.join(',');
  process.env.JOINUS_FORM_ENDPOINT_ORIGINS = [
    ...new Set(config.forms.flatMap((f) => (f.submitTo ? [new URL(f.submitTo).origin] : []))),
  ].join(',');

  const app = next({ dev, dir: process.cwd() });
  const handle = app.getRequestHandler();
  await app.prepare();

  const httpServer = createServer((req, res) => {
    void handle(req, res);
  });
  const signaling = createSignaling(httpServer, {
    store: new MemoryStore(),
    clock: systemClock,
    randomBytes: (n) => randomBytes(n),
    config: {
      ...defaultCoreConfig,
      agents,
      handleTtlMs: config.handleTtlMs,
      graceMs: config.graceMs,
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
  });
  if (dev) {
    // Next's dev server needs its own upgrade handling for hot reload; socket.io owns /socket.io/.
    const upgrade = app.getUpgradeHandler();
    httpServer.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket.io/')) void upgrade(req, socket, head);
    });
  }

  httpServer.listen(config.port, config.host, () => {
    const address = httpServer.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info({ port, mode: dev ? 'development' : 'production', store: 'memory' }, `Join Us is ready on http://localhost:${port}`);
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void signaling.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
