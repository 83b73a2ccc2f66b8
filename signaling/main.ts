/**
 * `npm run signaling`: a signaling node alone, without the pages (README "Scaling out"). Run one per
 * machine or container behind a load balancer, all with the same REDIS_URL; serve the pages with
 * `npm start` or `next start` and point them here with JOINUS_SIGNALING_URL.
 *
 * Besides socket.io it answers `GET /healthz`: 200 while it can reach its store, 503 otherwise, so
 * that a load balancer sends new connections to nodes that can serve them.
 */
import { createServer } from 'node:http';
import pino from 'pino';
import { loadConfigOrExit, startSignalingNode, stopOnSignals, warnAboutAccounts, type SignalingNode } from './compose';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = pino({ level: config.logLevel });
  warnAboutAccounts(config, logger);
  if (config.allowedOrigins.length === 0) {
    logger.warn('JOINUS_ALLOWED_ORIGINS is not set: only pages served from this same origin may connect (set it to the pages\' origin)');
  }

  let node: SignalingNode | null = null;
  const httpServer = createServer((req, res) => {
    // socket.io answers its own path before this handler runs.
    if (req.method === 'GET' && req.url === '/healthz') {
      const ok = node?.ready() ?? false;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ ok, store: node?.store ?? null, node: node?.signaling.nodeId ?? null }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('This is a Join Us signaling node; the pages are served elsewhere.\n');
  });
  node = await startSignalingNode(httpServer, config, logger);
  const started = node;
  // Serve no connection before this node holds a lease: one it took and then died with would never be reaped.
  await node.signaling.leaseHeld;

  httpServer.listen(config.port, config.host, () => {
    const address = httpServer.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info({ port, store: started.store, node: started.signaling.nodeId }, `Join Us signaling is ready on port ${port}`);
  });
  stopOnSignals(started, logger);
}

void main();
