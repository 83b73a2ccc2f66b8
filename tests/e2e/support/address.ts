/**
 * A client address of its own for one browser context.
 *
 * H8 rate-limits failed handle log-ins per client address, and every browser on this machine reaches
 * the server from 127.0.0.1 (the kernel picks that source address even for 127.x.y.z destinations).
 * So that tests making failed attempts never eat into each other's allowance, such a participant
 * talks to the server through this TCP relay, whose outgoing connections are bound to a random
 * address in 127.0.0.0/8: the server sees a distinct client, as it would for people on different
 * networks. Pages and the socket.io WebSocket both go through it (same origin).
 */
import { createServer, connect, type Socket } from 'node:net';

export interface Relay {
  /** Origin to open pages at (a 127.0.0.1 origin, so still a secure context). */
  origin: string;
  /** The client address the server sees. */
  clientAddress: string;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const octet = () => 2 + Math.floor(Math.random() * 250);
  const clientAddress = `127.${octet()}.${octet()}.${octet()}`;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: targetPort, localAddress: clientAddress });
    track(inbound);
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('relay has no port');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    clientAddress,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
