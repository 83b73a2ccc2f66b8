/**
 * `npm start`: the Next.js pages and a signaling node (signaling/compose.ts picks its store) on one
 * HTTP server and port. `npm run signaling` (signaling/main.ts) runs a signaling node alone.
 */
import { createServer } from 'node:http';
import next from 'next';
import pino from 'pino';
import { loadConfigOrExit, startSignalingNode, stopOnSignals, warnAboutAccounts } from './signaling/compose';
import { loadPagesConfig, orExit, pagesEnvironment } from './signaling/config';

async function main(): Promise<void> {
  const dev = process.argv.includes('--dev');
  const config = loadConfigOrExit();
  const logger = pino({ level: config.logLevel });
  warnAboutAccounts(config, logger);

  // Read by proxy.ts and the root layout, which build each page in this same process (and by
  // instrumentation.ts when the pages are served by `next start` alone).
  Object.assign(process.env, pagesEnvironment(orExit(() => loadPagesConfig())), { JOINUS_PAGES_CHECKED: '1' });

  const app = next({ dev, dir: process.cwd() });
  const handle = app.getRequestHandler();
  await app.prepare();

  const httpServer = createServer((req, res) => {
    void handle(req, res);
  });
  const node = await startSignalingNode(httpServer, config, logger);
  // With Redis: serve no connection before this node holds a lease (signaling/server.ts).
  await node.signaling.leaseHeld;
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
    logger.info({ port, mode: dev ? 'development' : 'production', store: node.store, node: node.signaling.nodeId }, `Join Us is ready on http://localhost:${port}`);
  });
  stopOnSignals(node, logger);
}

void main();
