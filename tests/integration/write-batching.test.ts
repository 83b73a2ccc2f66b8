/**
 * Issue 11: every packet written to a connection within one tick goes out in one write
 * (signaling/write-batching.ts), in order, and nothing written before a close is lost.
 */
import type { Socket as TcpSocket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openSession } from '../support/flows';
import { startSignaling } from '../support/signaling';

/** Counts the writes (system calls asked for) on the server's end of a client's connection. */
function countWrites(h: Awaited<ReturnType<typeof startSignaling>>, socketId: string) {
  const server = h.signaling.io.of('/').sockets.get(socketId)!;
  const tcp = (server.conn as unknown as { transport: { socket: { _socket: TcpSocket } } }).transport.socket._socket;
  const raw = tcp as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const counted = { writes: 0 };
  for (const method of ['_write', '_writev'] as const) {
    const original = raw[method]!.bind(tcp);
    raw[method] = (...args: unknown[]) => {
      counted.writes++;
      return original(...args);
    };
  }
  return { server, counted };
}

describe('one write per connection per tick', () => {
  it('packets sent to a connection in one tick arrive in order, written at once', async () => {
    const h = await startSignaling();
    const c = await h.client();
    await c.roundTrip();
    const { server, counted } = countWrites(h, c.socket.id!);

    const third = c.waitFor('handles:update', (u) => u.sessionId === 'third');
    for (const sessionId of ['first', 'second', 'third']) server.emit('handles:update', { sessionId, handles: [] });
    await third;
    expect(c.received('handles:update').map((u) => u.sessionId)).toEqual(['first', 'second', 'third']);
    expect(counted.writes).toBe(1);

    // The next tick's packets are the next write.
    const fourth = c.waitFor('handles:update', (u) => u.sessionId === 'fourth');
    server.emit('handles:update', { sessionId: 'fourth', handles: [] });
    await fourth;
    expect(counted.writes).toBe(2);
  });

  it('a request answered in the same tick as an event to the same connection: both in one write, in order', async () => {
    const h = await startSignaling();
    const s = await openSession(h, { agent: 'alice' });
    await s.agent.client.roundTrip();
    const { counted } = countWrites(h, s.agent.client.socket.id!);
    const before = s.agent.client.receivedEvents().length;
    // The reservation's handles:update and its answer go to the agent's connection in one tick.
    const r = await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'one-write' });
    expect(r.ok).toBe(true);
    expect(s.agent.client.receivedEvents().slice(before)).toEqual(['handles:update']);
    expect(counted.writes).toBe(1);
  });

  it('a packet sent just before the connection is closed still arrives, before the close', async () => {
    const h = await startSignaling();
    const c = await h.client();
    await c.roundTrip();
    const server = h.signaling.io.of('/').sockets.get(c.socket.id!)!;
    const last = c.waitFor('handles:update');
    const closed = c.disconnected();
    server.emit('handles:update', { sessionId: 'last-words', handles: [] });
    server.disconnect(true);
    expect((await last).sessionId).toBe('last-words');
    expect(await closed).toBe('io server disconnect');
  });
});
