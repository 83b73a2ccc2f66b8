/** Ports for the servers tests start of their own (Redis, product and signaling processes). */
import { createServer } from 'node:net';

/** A loopback port nobody listens on now: the one the kernel gives a listener on port 0. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
